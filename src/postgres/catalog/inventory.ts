// GET /dbs_and_roles (§6.3): what the catalog holds. Password hashes are never returned.
import { withAdminClient } from '../admin-connection';

export interface DbsAndRoles {
  roles: { name: string; encrypted_password: null; options: null }[];
  databases: { name: string; owner: string; options: null; restrict_conn: boolean; invalid: boolean }[];
}

export async function listDbsAndRoles(connstr: string): Promise<DbsAndRoles> {
  return withAdminClient(connstr, 'get_dbs_and_roles', async (c) => {
    const roles = await c.query<{ rolname: string }>(
      "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname",
    );
    const dbs = await c.query<{ datname: string; owner: string; restrict_conn: boolean; invalid: boolean }>(
      `SELECT d.datname, r.rolname AS owner, NOT d.datallowconn AS restrict_conn, d.datconnlimit = -2 AS invalid
         FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles r ON r.oid = d.datdba
        WHERE NOT d.datistemplate ORDER BY d.datname`,
    );
    return {
      roles: roles.rows.map((r) => ({ name: r.rolname, encrypted_password: null, options: null })),
      databases: dbs.rows.map((d) => ({ name: d.datname, owner: d.owner, options: null, restrict_conn: d.restrict_conn, invalid: d.invalid })),
    };
  });
}
