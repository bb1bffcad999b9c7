// What Postgres itself (the neon extension, local_proxy) asks of compute-ctl on the internal server
// (reference §6.4): an extension installed or updated, schema privileges granted.
import { withAdminClient } from './admin-connection';
import { quoteIdent } from './catalog/sql';

/** The privileges POST /grants accepts (any other is refused with 422). */
export const SCHEMA_PRIVILEGES = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'USAGE', 'CREATE', 'CONNECT', 'TEMPORARY', 'EXECUTE',
] as const;
export type SchemaPrivilege = (typeof SCHEMA_PRIVILEGES)[number];

/** The extension at `version` in `database`: kept if it is, updated if another, created in public if absent. */
export async function installExtension(connstr: string, r: { extension: string; database: string; version: string }): Promise<void> {
  await withAdminClient(connstr, 'extensions', async (c) => {
    const { rows } = await c.query<{ extversion: string }>('SELECT extversion FROM pg_catalog.pg_extension WHERE extname = $1', [r.extension]);
    if (rows[0]?.extversion === r.version) return;
    // The version is quoted as an identifier, as Neon does.
    if (rows.length > 0) await c.query(`ALTER EXTENSION ${quoteIdent(r.extension)} UPDATE TO ${quoteIdent(r.version)}`);
    else await c.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(r.extension)} WITH SCHEMA public VERSION ${quoteIdent(r.version)}`);
  }, r.database);
}

/**
 * Grants `role` the privileges on `schema` it lacks; grants nothing (so it also succeeds on a
 * read-only replica) when it has them all.
 */
export async function grantSchemaPrivileges(
  connstr: string,
  r: { database: string; schema: string; role: string; privileges: readonly SchemaPrivilege[] },
): Promise<void> {
  await withAdminClient(connstr, 'grants', async (c) => {
    const { rows } = await c.query<{ privilege_type: string }>(
      `SELECT a.privilege_type FROM pg_catalog.pg_namespace n, aclexplode(n.nspacl) a
        WHERE n.nspname = $1 AND a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)`,
      [r.schema, r.role],
    );
    const held = new Set(rows.map((row) => row.privilege_type));
    const missing = [...new Set(r.privileges)].filter((p) => !held.has(p));
    if (missing.length > 0) await c.query(`GRANT ${missing.join(', ')} ON SCHEMA ${quoteIdent(r.schema)} TO ${quoteIdent(r.role)}`);
  }, r.database);
}
