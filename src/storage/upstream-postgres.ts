// A plain upstream PostgreSQL as the storage (docs/DESIGN.md): the start LSN is the upstream's current
// WAL position, the basebackup comes from its replication protocol (pg_basebackup). Primaries start
// as independent writable copies, Replicas as streaming hot standbys (primary_conninfo is written
// by the config renderer).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { ComputeFailure, FAILURE } from '../compute/failures';
import { failpoint } from '../postgres/failpoints';
import { chown, runProgram, tail } from '../postgres/os';
import { latestCheckpointLsn } from '../postgres/control-file';
import { baseBackup } from './base-backup';
import { findClientProgram, postgresMajorVersion } from '../postgres/pgbin';
import { clearForBasebackup } from './clear-pgdata';
import type { ParsedSpec } from '../compute-spec/parse';
import type { StorageBackend, StorageContext } from './types';

/** Files of the upstream that the compute does not take over (it writes its own). */
const NOT_COPIED = new Set(['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf', 'backup_manifest']);

/** The permanent causes: authentication and missing roles or databases do not heal by retrying. */
const PERMANENT = /authentication failed|no pg_hba.conf entry|does not exist|permission denied/i;

async function copyWithPgBasebackup(pgBasebackup: string, source: string, staging: string, ctx: StorageContext): Promise<void> {
  const { connstring, password } = splitPassword(source);
  const env: NodeJS.ProcessEnv = { ...process.env, PGAPPNAME: 'compute_ctl' };
  if (password !== null) env.PGPASSWORD = password;
  const result = await runProgram(
    pgBasebackup,
    // fast checkpoint: do not wait for a spread checkpoint; no fsync: a crash means a new basebackup anyway.
    ['-d', connstring, '-D', staging, '-X', 'stream', '-c', 'fast', '--no-sync', '--no-manifest'],
    { runAs: ctx.runAs, env },
  ).catch((err: Error) => {
    throw ComputeFailure.permanent(FAILURE.basebackupFailed, `cannot run ${pgBasebackup}: ${err.message}`);
  });
  if (result.code !== 0) {
    await fs.rm(staging, { recursive: true, force: true });
    const message = `pg_basebackup from the upstream failed (exit ${result.code ?? result.signal}): ${tail(result.stderr, 5)}`;
    throw new ComputeFailure(FAILURE.basebackupFailed, message, !PERMANENT.test(result.stderr));
  }
}

/**
 * Without a pg_basebackup for the server's version (the embedded builds ship none): BASE_BACKUP
 * over the replication protocol ourselves, which PostgreSQL 15 and newer speak as we do.
 */
async function copyWithReplicationProtocol(source: string, staging: string, ctx: StorageContext): Promise<void> {
  const major = await postgresMajorVersion(ctx.postgres);
  if (major < 15) {
    throw ComputeFailure.permanent(
      FAILURE.basebackupFailed,
      `there is no pg_basebackup beside ${ctx.postgres}, nor one of PostgreSQL ${major} or newer on this machine: the postgres storage backend copies a PostgreSQL ${major} upstream with it; install it, or use the neon storage`,
    );
  }
  await fs.mkdir(staging, { mode: 0o700 });
  await chown(staging, ctx.runAs);
  try {
    await baseBackup(source, staging, ctx.runAs);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    const message = `the base backup from the upstream failed: ${(err as Error).message}`;
    throw new ComputeFailure(FAILURE.basebackupFailed, message, !PERMANENT.test(message));
  }
}

function upstream(parsed: ParsedSpec): string {
  if (parsed.storage.type !== 'postgres') throw new Error('not a postgres storage spec');
  return parsed.storage.connstring;
}

/** Moves a password out of a URI connstring into PGPASSWORD, so it never shows in `ps`. */
export function splitPassword(connstring: string): { connstring: string; password: string | null } {
  if (!/^postgres(ql)?:\/\//.test(connstring)) return { connstring, password: null };
  try {
    const url = new URL(connstring);
    if (!url.password) return { connstring, password: null };
    const password = decodeURIComponent(url.password);
    url.password = '';
    return { connstring: url.toString(), password };
  } catch {
    return { connstring, password: null };
  }
}

/** Bytes of the files below `dir`; the stats run side by side (one after another took ~100 ms of a start). */
async function dirBytes(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const sizes = await Promise.all(
    entries.map(async (entry) => {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) return dirBytes(p);
      return entry.isFile() ? (await fs.stat(p)).size : 0;
    }),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

export const postgresStorage: StorageBackend = {
  async primaryStartLsn(parsed) {
    const t0 = Date.now();
    const client = new Client({ connectionString: upstream(parsed), application_name: 'compute_ctl', connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined); // surfaces through the query instead of crashing the worker
    try {
      await client.connect();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const message = `cannot connect to the upstream: ${(err as Error).message}`;
      // Authentication, unknown role or database: retrying cannot fix these.
      if (/^(28|3D)/.test(code)) throw ComputeFailure.permanent(FAILURE.upstreamUnusable, message);
      throw ComputeFailure.transient(FAILURE.upstreamUnreachable, message);
    }
    try {
      const { rows } = await client.query<{ lsn: string }>(
        'SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn',
      );
      return { lsn: rows[0].lsn, checkMs: 0, syncMs: Date.now() - t0 };
    } finally {
      await client.end();
    }
  },

  async basebackup(parsed, _lsn, ctx: StorageContext) {
    const staging = path.join(ctx.pgdata, '.basebackup');
    // A retry after a dead worker starts again from an empty PGDATA (but for postgresql.conf).
    await clearForBasebackup(ctx.pgdata);
    const pgBasebackup = await findClientProgram(ctx.postgres, 'pg_basebackup');
    if (pgBasebackup !== null) await copyWithPgBasebackup(pgBasebackup, upstream(parsed), staging, ctx);
    else await copyWithReplicationProtocol(upstream(parsed), staging, ctx);
    const bytes = await dirBytes(staging);
    const entries = (await fs.readdir(staging)).filter((name) => !NOT_COPIED.has(name));
    for (const [i, name] of entries.entries()) {
      if (i === Math.floor(entries.length / 2)) await failpoint('fetchBasebackup-mid');
      await fs.rename(path.join(staging, name), path.join(ctx.pgdata, name));
    }
    await fs.rm(staging, { recursive: true, force: true });
    await chown(ctx.pgdata, ctx.runAs);
    // No pageserver is involved: pageserver_connect_micros stays 0.
    return { bytes, connectMicros: 0 };
  },

  async finalLsn(parsed, ctx) {
    if (parsed.mode.type !== 'primary') return null;
    // As pg_controldata's "Latest checkpoint location": the shutdown checkpoint just written.
    return latestCheckpointLsn(ctx.pgdata);
  },
};
