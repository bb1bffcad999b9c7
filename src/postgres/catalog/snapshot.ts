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
 * What acldefault('r' / 's', owner) grants an owner (ACL_ALL_RIGHTS_RELATION, _SEQUENCE): the
 * privileges the privileged role must hold by default, with grant option. 17 added MAINTAIN (m).
 */
export function defaultPrivilegeLetters(serverVersionNum: number): { tables: string; sequences: string } {
  return { tables: serverVersionNum >= 170000 ? 'arwdDxtm' : 'arwdDxt', sequences: 'rwU' };
}

/**
 * The privileges `grantee` holds with grant option in an aclitem[] as text (`grantee=a*r*w/grantor`,
 * a `*` after each grantable letter). `grantee` matches ^[a-z_]+$, which aclitem output never quotes.
 */
export function grantableLetters(acl: string[] | null, grantee: string): Set<string> {
  const out = new Set<string>();
  for (const item of acl ?? []) {
    if (!item.startsWith(`${grantee}=`)) continue;
    const privs = item.slice(grantee.length + 1, item.indexOf('/', grantee.length + 1));
    for (const m of privs.matchAll(/([a-zA-Z])\*/g)) out.add(m[1]);
  }
  return out;
}

const holdsAll = (held: Set<string>, wanted: string) => [...wanted].every((l) => held.has(l));

/**
 * One round trip in a freshly connected database, touching as few catalogs and functions as it
 * can: each one a new backend has to load costs, and a re-apply visits every database. The default
 * ACLs come back raw and are checked here; web_access's privilege is asked only when the role
 * exists. Cluster-wide facts (does web_access exist, how many subscriptions the database holds:
 * pg_subscription is shared) come from the cluster snapshot.
 */
export async function readDatabaseSnapshot(
  client: Client,
  priv: string,
  cluster: { webAccessExists: boolean; subscriptions: number; serverVersionNum: number },
): Promise<DatabaseSnapshot> {
  const webAccess = cluster.webAccessExists ? ", NOT pg_catalog.has_schema_privilege('web_access', n.oid, 'CREATE') AS web_access_needs_create" : '';
  const { rows } = await client.query<{ owner: string; objtype: string | null; acl: string[] | null; web_access_needs_create?: boolean }>(
    `SELECT pg_catalog.pg_get_userbyid(n.nspowner) AS owner, d.defaclobjtype AS objtype, d.defaclacl::text[] AS acl${webAccess}
       FROM pg_catalog.pg_namespace n
       LEFT JOIN pg_catalog.pg_default_acl d
         ON d.defaclnamespace = n.oid AND d.defaclrole = (SELECT oid FROM pg_catalog.pg_authid WHERE rolname = current_user)
      WHERE n.nspname = 'public'`,
  );
  const wanted = defaultPrivilegeLetters(cluster.serverVersionNum);
  const held = (objtype: string) => grantableLetters(rows.find((r) => r.objtype === objtype)?.acl ?? null, priv);
  return {
    publicSchemaOwner: rows[0]?.owner ?? null,
    webAccessNeedsCreate: rows[0]?.web_access_needs_create ?? false,
    defaultPrivilegesComplete: { tables: holdsAll(held('r'), wanted.tables), sequences: holdsAll(held('S'), wanted.sequences) },
    subscriptions: cluster.subscriptions,
  };
}
