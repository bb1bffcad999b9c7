// Creation of the spec's roles and databases (reference §5.5 phases 1, 4 and 7). This is the
// create-and-alter subset; delta operations and the per-database phases build on it.
import type { Client } from 'pg';
import type { ParsedSpec } from '../spec/parse';
import { withAdminClient } from './admin-connection';
import { passwordClause, quoteIdent, quoteLiteral, renderSqlOptions, samePassword } from './sql';

export const PRIVILEGED_ROLE_PATTERN = /^[a-z_]+$/;

/** The statements that bring the catalog in line with the spec, given what the catalog holds. */
export function planCatalog(
  parsed: ParsedSpec,
  priv: string,
  catalog: { roles: Map<string, string | null>; databases: Map<string, string> },
): string[] {
  if (!PRIVILEGED_ROLE_PATTERN.test(priv)) throw new Error(`invalid privileged role name: ${priv}`);
  const stmts: string[] = [];
  stmts.push(
    `DO $x$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(priv)}) THEN ` +
      `CREATE ROLE ${priv} CREATEDB CREATEROLE NOLOGIN REPLICATION BYPASSRLS IN ROLE pg_read_all_data, pg_write_all_data; END IF; END $x$`,
  );
  for (const role of parsed.spec.cluster.roles) {
    const name = quoteIdent(role.name);
    const tail = `${renderSqlOptions(role.options)} LOGIN ${passwordClause(role.encrypted_password)}`;
    if (!catalog.roles.has(role.name)) {
      stmts.push(`CREATE ROLE ${name} INHERIT CREATEROLE CREATEDB BYPASSRLS REPLICATION IN ROLE ${priv}${tail}`);
    } else if (!samePassword(catalog.roles.get(role.name) ?? null, role.encrypted_password)) {
      stmts.push(`ALTER ROLE ${name}${tail}`);
    }
  }
  for (const db of parsed.spec.cluster.databases) {
    const name = quoteIdent(db.name);
    const owner = catalog.databases.get(db.name);
    if (owner === undefined) {
      stmts.push(`CREATE DATABASE ${name}${renderSqlOptions(db.options)} OWNER ${quoteIdent(db.owner)}`);
      stmts.push(`GRANT ALL PRIVILEGES ON DATABASE ${name} TO ${priv}`);
    } else if (owner !== db.owner) {
      stmts.push(`ALTER DATABASE ${name} OWNER TO ${quoteIdent(db.owner)}`);
    }
  }
  return stmts;
}

async function readCatalog(client: Client) {
  const roles = await client.query<{ rolname: string; rolpassword: string | null }>(
    'SELECT rolname, rolpassword FROM pg_catalog.pg_authid',
  );
  const dbs = await client.query<{ datname: string; owner: string }>(
    'SELECT d.datname, r.rolname AS owner FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles r ON r.oid = d.datdba',
  );
  return {
    roles: new Map(roles.rows.map((r) => [r.rolname, r.rolpassword])),
    databases: new Map(dbs.rows.map((d) => [d.datname, d.owner])),
  };
}

/** Applies the spec's roles and databases; returns the number of statements run. */
export async function applyCatalog(connstr: string, parsed: ParsedSpec, priv: string): Promise<number> {
  return withAdminClient(connstr, 'apply_config', async (client) => {
    const stmts = planCatalog(parsed, priv, await readCatalog(client));
    // CREATE DATABASE cannot run inside a transaction block: statements run one by one, autocommit.
    for (const sql of stmts) {
      try {
        await client.query(sql);
      } catch (err) {
        // The statement text is safe to show: passwords are hashes, but keep them out anyway.
        const shown = sql.replace(/PASSWORD '[^']*'/g, "PASSWORD '<redacted>'");
        throw new Error(`${(err as Error).message} (while running: ${shown})`);
      }
    }
    return stmts.length;
  });
}
