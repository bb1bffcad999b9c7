// Configuration reloads (§5.1): the temporary override file that lifts limits during catalog
// updates, and a reload that waits until Postgres has really re-read its files, so that
// pg_settings.pending_restart is current when it is read.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { withAdminClient } from './admin-connection';
import { writeOwnedFile, type RunAs } from './os';

export const OVERRIDE_FILE = 'compute_ctl_temp_override.conf';
const RELOAD_TIMEOUT_MS = 10_000;

const OVERRIDE = 'neon.max_cluster_size=-1\n';

export async function writeOverride(pgdata: string, runAs: RunAs | null): Promise<void> {
  await writeOwnedFile(path.join(pgdata, OVERRIDE_FILE), OVERRIDE, runAs);
}

/** Whether the override file lifts the limits now (written before Postgres started, or since). */
export async function overrideInPlace(pgdata: string): Promise<boolean> {
  return (await fs.readFile(path.join(pgdata, OVERRIDE_FILE), 'utf8').catch(() => '')) === OVERRIDE;
}

export async function truncateOverride(pgdata: string, runAs: RunAs | null): Promise<void> {
  await writeOwnedFile(path.join(pgdata, OVERRIDE_FILE), '', runAs);
}

/** §5.1 step 6: after the first apply, subscribers may start (the line after the include wins). */
export async function enableSubscribers(pgdata: string, runAs: RunAs | null): Promise<void> {
  const file = path.join(pgdata, 'postgresql.conf');
  const line = 'neon.disable_logical_replication_subscribers=false';
  const conf = await fs.readFile(file, 'utf8');
  if (!conf.split('\n').includes(line)) await writeOwnedFile(file, `${conf}${conf.endsWith('\n') ? '' : '\n'}${line}\n`, runAs);
}

/** pg_reload_conf(), then wait until this backend has re-read the files; returns pending_restart settings. */
export async function reloadAndWait(connstr: string): Promise<string[]> {
  return withAdminClient(connstr, 'reload', async (c) => {
    const before = (await c.query<{ t: string }>('SELECT pg_conf_load_time()::text AS t')).rows[0].t;
    await c.query('SELECT pg_reload_conf()');
    const deadline = Date.now() + RELOAD_TIMEOUT_MS;
    for (;;) {
      const { rows } = await c.query<{ done: boolean }>('SELECT pg_conf_load_time() > $1::timestamptz AS done', [before]);
      if (rows[0].done) break;
      if (Date.now() > deadline) throw new Error(`Postgres did not reload its configuration within ${RELOAD_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const pending = await c.query<{ name: string }>('SELECT name FROM pg_catalog.pg_settings WHERE pending_restart ORDER BY name');
    return pending.rows.map((r) => r.name);
  });
}
