// Migrations of the privileged role (§5.8), run in the background after the first start. Each runs
// in its own transaction and records its id; the first failure stops the run. Only appended to.
import { withAdminClient } from '../admin-connection';
import { inheritPrivilegedRole } from './do-blocks';
import { log as logLine } from '../../log';

interface Migration {
  id: number;
  /** SQL for this server version, or null where the server lacks what it grants (skipped). */
  sql: (priv: string, serverVersionNum: number) => string | null;
}

const PG16 = 160000;

export const MIGRATIONS: Migration[] = [
  { id: 1, sql: (p) => `ALTER ROLE ${p} BYPASSRLS` },
  { id: 2, sql: (p) => inheritPrivilegedRole(p) },
  { id: 3, sql: (p, v) => (v >= PG16 ? `GRANT pg_create_subscription TO ${p}` : null) },
  { id: 4, sql: (p) => `GRANT pg_monitor TO ${p} WITH ADMIN OPTION` },
  { id: 5, sql: () => null },
  { id: 6, sql: () => null },
  { id: 7, sql: () => null },
  { id: 8, sql: () => null },
  { id: 9, sql: () => null },
  {
    id: 10,
    sql: (p, v) =>
      v >= PG16 ? `GRANT EXECUTE ON FUNCTION pg_export_snapshot TO ${p}; GRANT EXECUTE ON FUNCTION pg_log_standby_snapshot TO ${p}` : null,
  },
  { id: 11, sql: (p) => `GRANT EXECUTE ON FUNCTION pg_show_replication_origin_status TO ${p}` },
  { id: 12, sql: (p) => `GRANT pg_signal_backend TO ${p} WITH ADMIN OPTION` },
];

export interface MigrationReport {
  applied: number[];
  skipped: number[];
  failed: { id: number; error: string } | null;
}

export async function runMigrations(
  connstr: string,
  priv: string,
  log: (line: string) => void = (l) => logLine('info', l),
): Promise<MigrationReport> {
  const report: MigrationReport = { applied: [], skipped: [], failed: null };
  await withAdminClient(connstr, 'migrations', async (client) => {
    const admin = (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0].u;
    await client.query(`CREATE SCHEMA IF NOT EXISTS neon_migration;
      CREATE TABLE IF NOT EXISTS neon_migration.migration_id (key int4 NOT NULL PRIMARY KEY, id int8 NOT NULL DEFAULT 0);
      INSERT INTO neon_migration.migration_id VALUES (0, 0) ON CONFLICT DO NOTHING;
      ALTER SCHEMA neon_migration OWNER TO "${admin.replace(/"/g, '""')}";
      REVOKE ALL ON SCHEMA neon_migration FROM PUBLIC`);
    const version = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v);
    const done = Number((await client.query<{ id: string }>('SELECT id FROM neon_migration.migration_id WHERE key = 0')).rows[0].id);
    for (const m of MIGRATIONS.filter((m) => m.id > done)) {
      const sql = m.sql(priv, version);
      try {
        await client.query('BEGIN');
        if (sql === null) log(`Skipping migration id=${m.id}`);
        else {
          log(`Running migration id=${m.id}`);
          await client.query(sql);
        }
        await client.query('UPDATE neon_migration.migration_id SET id = $1 WHERE key = 0', [m.id]);
        await client.query('COMMIT');
        if (sql === null) report.skipped.push(m.id);
        else {
          report.applied.push(m.id);
          log(`Finished migration id=${m.id}`);
        }
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        log(`Failed to run migration id=${m.id}: ${(err as Error).message}`);
        report.failed = { id: m.id, error: (err as Error).message };
        break;
      }
    }
  });
  return report;
}
