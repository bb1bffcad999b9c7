// What the catalog holds, read before planning (§5.3): the plan issues only the statements that
// change something, so re-applying an unchanged spec runs no DDL at all.
import type { Client } from 'pg';

export interface DatabaseState {
  owner: string;
  restrictConn: boolean;
  invalid: boolean;
  isTemplate: boolean;
}

/** Cluster-wide state, read on the system database. */
export interface ClusterSnapshot {
  serverVersionNum: number;
  /** rolname → rolpassword */
  roles: Map<string, string | null>;
  databases: Map<string, DatabaseState>;
  /** Extensions the server could install: name → default version. */
  availableExtensions: Map<string, string>;
  /** Extensions installed in the system database: name → {version, schema}. */
  installedExtensions: Map<string, { version: string; schema: string }>;
  neonSchemaExists: boolean;
  healthCheckExists: boolean;
  /** Whether subscriptions were already dropped for this timeline (drop_subscriptions_before_start). */
  subscriptionsDropped: boolean;
  /** datname → how many subscriptions it holds (pg_subscription is shared: one query for all). */
  subscriptions: Map<string, number>;
}

export async function readClusterSnapshot(client: Client, timelineId: string): Promise<ClusterSnapshot> {
  const version = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  const roles = await client.query<{ rolname: string; rolpassword: string | null }>('SELECT rolname, rolpassword FROM pg_catalog.pg_authid');
  const dbs = await client.query<{ datname: string; owner: string; restrict_conn: boolean; invalid: boolean; datistemplate: boolean }>(
    `SELECT d.datname, r.rolname AS owner, NOT d.datallowconn AS restrict_conn, d.datconnlimit = -2 AS invalid, d.datistemplate
       FROM pg_catalog.pg_database d JOIN pg_catalog.pg_roles r ON r.oid = d.datdba`,
  );
  const available = await client.query<{ name: string; default_version: string }>(
    'SELECT name, default_version FROM pg_catalog.pg_available_extensions',
  );
  const installed = await client.query<{ extname: string; extversion: string; schema: string }>(
    'SELECT e.extname, e.extversion, n.nspname AS schema FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace',
  );
  const objects = await client.query<{ neon_schema: boolean; health_check: boolean; drop_table: boolean }>(
    `SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'neon') AS neon_schema,
            to_regclass('public.health_check') IS NOT NULL AS health_check,
            to_regclass('neon.drop_subscriptions_done') IS NOT NULL AS drop_table`,
  );
  const subs = await client.query<{ datname: string; n: number }>(
    'SELECT d.datname, count(*)::int AS n FROM pg_catalog.pg_subscription s JOIN pg_catalog.pg_database d ON d.oid = s.subdbid GROUP BY d.datname',
  );
  let subscriptionsDropped = false;
  if (objects.rows[0].drop_table) {
    const done = await client.query('SELECT 1 FROM neon.drop_subscriptions_done WHERE timeline_id = $1', [timelineId]);
    subscriptionsDropped = (done.rowCount ?? 0) > 0;
  }
  return {
    serverVersionNum: Number(version.rows[0].v),
    roles: new Map(roles.rows.map((r) => [r.rolname, r.rolpassword])),
    databases: new Map(
      dbs.rows.map((d) => [d.datname, { owner: d.owner, restrictConn: d.restrict_conn, invalid: d.invalid, isTemplate: d.datistemplate }]),
    ),
    availableExtensions: new Map(available.rows.map((e) => [e.name, e.default_version])),
    installedExtensions: new Map(installed.rows.map((e) => [e.extname, { version: e.extversion, schema: e.schema }])),
    neonSchemaExists: objects.rows[0].neon_schema,
    healthCheckExists: objects.rows[0].health_check,
    subscriptions: new Map(subs.rows.map((r) => [r.datname, r.n])),
    subscriptionsDropped,
  };
}

/** Per-database state for the per-database phases (§5.5 phase 9), read in that database. */
export interface DatabaseSnapshot {
  publicSchemaOwner: string | null;
  /** web_access exists and lacks CREATE on schema public */
  webAccessNeedsCreate: boolean;
  /** The privileged role already has every table / sequence privilege by default, with grant option. */
  defaultPrivilegesComplete: { tables: boolean; sequences: boolean };
  subscriptions: number;
}

/**
 * One round trip in a freshly connected database, touching as few catalogs as it can: each one a new
 * backend has to load costs, and a re-apply visits every database. Cluster-wide facts (does
 * web_access exist, how many subscriptions the database holds: pg_subscription is shared) come from
 * the cluster snapshot.
 */
export async function readDatabaseSnapshot(
  client: Client,
  priv: string,
  cluster: { webAccessExists: boolean; subscriptions: number },
): Promise<DatabaseSnapshot> {
  const { rows } = await client.query<{
    owner: string | null;
    web_access_needs_create: boolean;
    tables_complete: boolean;
    sequences_complete: boolean;
  }>(
    `WITH pub AS (SELECT oid, nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'public'),
          granted AS (
            SELECT d.defaclobjtype AS objtype, a.privilege_type
              FROM pg_catalog.pg_default_acl d, pub, aclexplode(d.defaclacl) a
             WHERE d.defaclrole = to_regrole(quote_ident(current_user))
               AND d.defaclnamespace = pub.oid
               AND a.grantee = to_regrole(quote_ident($1))
               AND a.is_grantable),
          wanted AS (
            SELECT 'r'::"char" AS objtype, privilege_type FROM aclexplode(acldefault('r', 10))
            UNION ALL
            SELECT 'S'::"char", privilege_type FROM aclexplode(acldefault('s', 10)))
     SELECT (SELECT pg_get_userbyid(nspowner) FROM pub) AS owner,
            CASE WHEN $2 AND EXISTS (SELECT FROM pub) THEN NOT has_schema_privilege('web_access', 'public', 'CREATE') ELSE false END
              AS web_access_needs_create,
            NOT EXISTS (SELECT FROM wanted w WHERE w.objtype = 'r' AND NOT EXISTS
              (SELECT FROM granted g WHERE g.objtype = 'r' AND g.privilege_type = w.privilege_type)) AS tables_complete,
            NOT EXISTS (SELECT FROM wanted w WHERE w.objtype = 'S' AND NOT EXISTS
              (SELECT FROM granted g WHERE g.objtype = 'S' AND g.privilege_type = w.privilege_type)) AS sequences_complete`,
    [priv, cluster.webAccessExists],
  );
  const r = rows[0];
  return {
    publicSchemaOwner: r.owner,
    webAccessNeedsCreate: r.web_access_needs_create,
    defaultPrivilegesComplete: { tables: r.tables_complete, sequences: r.sequences_complete },
    subscriptions: cluster.subscriptions,
  };
}
