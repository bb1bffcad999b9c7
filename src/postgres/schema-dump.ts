// `GET /database_schema` (reference §6.3): `pg_dump --schema-only` of one database of the compute,
// streamed as it is produced. The database is named in PGDATABASE, so any name works.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { parseIntoClientConfig } from 'pg-connection-string';

export type SchemaDump =
  | { kind: 'stream'; stdout: Readable; child: ChildProcess }
  | { kind: 'missing' }
  | { kind: 'failed'; message: string };

/** Starts pg_dump; resolves once it printed something (stream it), or ended without output. */
export function dumpSchema(pgbinDir: string, connstr: string, database: string): Promise<SchemaDump> {
  const c = parseIntoClientConfig(connstr);
  const env: NodeJS.ProcessEnv = { ...process.env, PGDATABASE: database, PGAPPNAME: 'compute_ctl:database_schema' };
  if (c.password) env.PGPASSWORD = String(c.password);
  const args = ['--host', String(c.host ?? '127.0.0.1'), '--port', String(c.port ?? 5432), '--username', String(c.user ?? 'cloud_admin'), '--schema-only'];
  const child = spawn(path.join(pgbinDir, 'pg_dump'), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      child.stdout!.pause();
      child.stdout!.unshift(chunk);
      cleanup();
      resolve({ kind: 'stream', stdout: child.stdout!, child });
    };
    const onClose = (code: number | null) => {
      cleanup();
      const first = stderr.split('\n')[0] ?? '';
      if (first.includes(`database "${database}" does not exist`)) resolve({ kind: 'missing' });
      else if (code === 0) resolve({ kind: 'stream', stdout: child.stdout!, child });
      else resolve({ kind: 'failed', message: `pg_dump failed (exit ${code}): ${stderr.trim().split('\n').slice(0, 3).join(' ')}` });
    };
    const onError = (err: Error) => {
      cleanup();
      resolve({ kind: 'failed', message: `cannot run pg_dump: ${err.message}` });
    };
    const cleanup = () => {
      child.stdout!.off('data', onData);
      child.off('close', onClose);
      child.off('error', onError);
    };
    child.stdout!.on('data', onData);
    child.once('close', onClose);
    child.once('error', onError);
  });
}
