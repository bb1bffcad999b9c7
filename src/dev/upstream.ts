// A local upstream PostgreSQL cluster (the postgres storage backend's source), initdb'ed with
// cloud_admin as its superuser so that computes copied from it have the role compute-ctl uses.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { chown, runProgram, tail, type RunAs } from '../postgres/os';
import { startPostmaster, stopPostmaster } from '../postgres/postmaster';

export interface UpstreamOptions {
  pgdata: string;
  port: number;
  /** Path of the postgres binary (initdb is its sibling). */
  postgres: string;
  runAs: RunAs | null;
  /** Its log in files under PGDATA/log (Postgres' logging collector) instead of our stderr. */
  logToFiles?: boolean;
  /** fsync on (the benchmark's second run): off by default, as a local stack and the tests want it. */
  fsync?: boolean;
}

export interface Upstream {
  connstring: string;
  stop(): Promise<void>;
}

export async function initUpstream(o: UpstreamOptions): Promise<void> {
  if (await fs.stat(path.join(o.pgdata, 'PG_VERSION')).catch(() => null)) return;
  await fs.mkdir(o.pgdata, { recursive: true, mode: 0o700 });
  await chown(o.pgdata, o.runAs);
  const initdb = path.join(path.dirname(o.postgres), 'initdb');
  const r = await runProgram(initdb, ['-D', o.pgdata, '-U', 'cloud_admin', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], {
    runAs: o.runAs,
  });
  if (r.code !== 0) throw new Error(`initdb failed: ${tail(r.stderr || r.stdout)}`);
}

export async function startUpstream(o: UpstreamOptions): Promise<Upstream> {
  await initUpstream(o);
  await startPostmaster({
    postgres: o.postgres,
    pgdata: o.pgdata,
    runAs: o.runAs,
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
    args: [
      '-p', String(o.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `fsync=${o.fsync ? 'on' : 'off'}`,
      ...(o.logToFiles ? ['-c', 'logging_collector=on'] : []),
    ],
  });
  return {
    connstring: `postgresql://cloud_admin@127.0.0.1:${o.port}/postgres`,
    stop: async () => {
      await stopPostmaster(o.pgdata, 'SIGINT');
    },
  };
}
