// The statements that reconcile the catalog with the spec, phase by phase in the order of §5.5,
// planned from a snapshot so that only real changes are issued. Pure: unit-tested without a server.
import { findOption, type ParsedSpec } from '../../compute-spec/parse';
import type { ClusterSnapshot, DatabaseSnapshot, DatabaseState } from './snapshot';
import { dollarQuote, passwordClause, quoteIdent, quoteLiteral, renderSqlOptions, samePassword } from './sql';

export const PRIVILEGED_ROLE_PATTERN = /^[a-z_]+$/;

export interface PlanOptions {
  /** The privileged ("weak superuser") role, validated ^[a-z_]+$ and used unquoted. */
  priv: string;
  /** compute-ctl's own superuser (the --connstr user). */
  adminUser: string;
  /** The system database (the --connstr database). */
  systemDb: string;
}

/** Statements that run one after another; groups of one phase may run in parallel. */
export type Group = string[];

export interface Phase {
  name: string;
  groups: Group[];
  parallel: boolean;
}

/** A database the per-database phases visit, with the roles being deleted that live on in it. */
export interface DatabaseTarget {
  name: string;
  owner: string;
  system: boolean;
}

export interface SystemPlan {
  /** Phase 0: databases about to be deleted whose subscriptions must go first. */
  preDrop: string[];
  /** Phases 1-8, system database. */
  before: Phase[];
  /** Phase 9 visits these databases. */
  databases: DatabaseTarget[];
  /** Roles deleted by delta operations that exist (phase 9 and 13). */
  deleteRoles: string[];
  dropSubscriptions: boolean;
  /** Phases 10-15, system database. */
  after: Phase[];
}

const seq = (name: string, statements: string[]): Phase => ({ name, groups: statements.length ? [statements] : [], parallel: false });

function localProxyRoles(parsed: ParsedSpec): Set<string> {
  const config = parsed.spec.local_proxy_config as { jwks?: { role_names?: unknown }[] } | null | undefined;
  const names = (config?.jwks ?? []).flatMap((j) => (Array.isArray(j.role_names) ? j.role_names : []));
  return new Set(names.filter((n): n is string => typeof n === 'string'));
}

export function assertPrivilegedRoleName(priv: string): void {
  if (!PRIVILEGED_ROLE_PATTERN.test(priv)) throw new Error(`invalid privileged role name: ${priv}`);
}

export function planSystem(parsed: ParsedSpec, snap: ClusterSnapshot, opts: PlanOptions): SystemPlan {
  assertPrivilegedRoleName(opts.priv);
  const { spec } = parsed;
  const priv = opts.priv;
  const ops = spec.delta_operations ?? [];
  // Working copies: later phases see what earlier ones changed.
  const roles = new Map(snap.roles);
  const dbs = new Map<string, DatabaseState>(snap.databases);
  const usable = (d: DatabaseState | undefined) => d !== undefined && !d.restrictConn && !d.invalid;

  const preDrop = ops.filter((op) => op.action === 'delete_db' && usable(dbs.get(op.name))).map((op) => op.name);

  // 1. CreatePrivilegedRole
  const createPriv = roles.has(priv)
    ? []
    : [`CREATE ROLE ${priv} CREATEDB CREATEROLE NOLOGIN REPLICATION BYPASSRLS IN ROLE pg_read_all_data, pg_write_all_data`];
  if (!roles.has(priv)) roles.set(priv, null);

  // 2. DropInvalidDatabases (an interrupted DROP DATABASE leaves one behind)
  const dropInvalid: Group[] = [];
  for (const [name, d] of dbs) {
    if (!d.invalid) continue;
    dropInvalid.push([`DROP DATABASE IF EXISTS ${quoteIdent(name)}`]);
    dbs.delete(name);
  }

  // 3. RenameRoles (intended behaviour, §13: rename when the old role exists)
  const renameRoles: string[] = [];
  for (const op of ops) {
    if (op.action !== 'rename_role' || !op.new_name || !roles.has(op.name)) continue;
    renameRoles.push(`ALTER ROLE ${quoteIdent(op.name)} RENAME TO ${quoteIdent(op.new_name)}`);
    roles.delete(op.name);
    // Renaming clears an md5 password (the name is its salt): the next phase sets it again.
    roles.set(op.new_name, null);
  }

  // 4. CreateAndAlterRoles
  const plainRoles = localProxyRoles(parsed);
  const roleStatements: string[] = [];
  for (const role of spec.cluster.roles) {
    const name = quoteIdent(role.name);
    const tail = `${renderSqlOptions(role.options)} LOGIN ${passwordClause(role.encrypted_password)}`;
    if (!roles.has(role.name)) {
      roleStatements.push(
        plainRoles.has(role.name)
          ? `CREATE ROLE ${name}${tail}`
          : `CREATE ROLE ${name} INHERIT CREATEROLE CREATEDB BYPASSRLS REPLICATION IN ROLE ${priv}${tail}`,
      );
      roles.set(role.name, role.encrypted_password ?? null);
    } else if (!samePassword(roles.get(role.name) ?? null, role.encrypted_password)) {
      roleStatements.push(`ALTER ROLE ${name}${tail}`);
    }
  }

  // 5. RenameAndDeleteDatabases, in delta order
  const renameDelete: Group[] = [];
  for (const op of ops) {
    if (op.action === 'delete_db') {
      const d = dbs.get(op.name);
      if (!d) continue;
      const group = d.isTemplate ? [`ALTER DATABASE ${quoteIdent(op.name)} is_template false`] : [];
      group.push(`DROP DATABASE IF EXISTS ${quoteIdent(op.name)} WITH (FORCE)`);
      renameDelete.push(group);
      dbs.delete(op.name);
    } else if (op.action === 'rename_db' && op.new_name && dbs.has(op.name)) {
      renameDelete.push([`ALTER DATABASE ${quoteIdent(op.name)} RENAME TO ${quoteIdent(op.new_name)}`]);
      dbs.set(op.new_name, dbs.get(op.name)!);
      dbs.delete(op.name);
    }
  }

  // 7. CreateAndAlterDatabases: creations are independent of each other and run in parallel.
  const createDbs: Group[] = [];
  const alterDbs: string[] = [];
  for (const db of spec.cluster.databases) {
    const name = quoteIdent(db.name);
    const existing = dbs.get(db.name);
    if (!existing) {
      createDbs.push([
        `CREATE DATABASE ${name}${renderSqlOptions(db.options)} OWNER ${quoteIdent(db.owner)}`,
        `GRANT ALL PRIVILEGES ON DATABASE ${name} TO ${priv}`,
      ]);
      dbs.set(db.name, { owner: db.owner, restrictConn: false, invalid: false, isTemplate: false });
    } else if (existing.owner !== db.owner) {
      alterDbs.push(`ALTER DATABASE ${name} OWNER TO ${quoteIdent(db.owner)}`);
      existing.owner = db.owner;
    }
  }

  // 8. CreateSchemaNeon
  const neonSchema = snap.neonSchemaExists ? [] : ['CREATE SCHEMA IF NOT EXISTS neon'];

  const deleteRoles = ops.filter((op) => op.action === 'delete_role' && roles.has(op.name)).map((op) => op.name);
  const dropSubscriptions = Boolean(spec.drop_subscriptions_before_start) && !snap.subscriptionsDropped;

  // 9 visits every spec database and the system database that can be connected to.
  const databases: DatabaseTarget[] = [];
  const seen = new Set<string>();
  for (const name of [...spec.cluster.databases.map((d) => d.name), opts.systemDb]) {
    const d = dbs.get(name);
    if (seen.has(name) || !usable(d)) continue;
    seen.add(name);
    databases.push({ name, owner: d!.owner, system: name === opts.systemDb });
  }

  // 10. HandleOtherExtensions
  const preload = findOption(spec.cluster.settings, 'shared_preload_libraries') ?? '';
  const otherExtensions =
    preload.includes('pg_stat_statements') && snap.availableExtensions.has('pg_stat_statements') && !snap.installedExtensions.has('pg_stat_statements')
      ? ['CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA public']
      : [];

  // 11. HandleNeonExtension: only where the server has it (plain PostgreSQL does not).
  const neonExtension: string[] = [];
  const neonAvailable = snap.availableExtensions.get('neon');
  const neonInstalled = snap.installedExtensions.get('neon');
  if (neonAvailable !== undefined) {
    if (!neonInstalled) neonExtension.push('CREATE EXTENSION IF NOT EXISTS neon WITH SCHEMA neon');
    else {
      if (neonInstalled.schema !== 'neon') {
        neonExtension.push(
          "UPDATE pg_catalog.pg_extension SET extrelocatable = true WHERE extname = 'neon' AND extrelocatable = false",
          'ALTER EXTENSION neon SET SCHEMA neon',
        );
      }
      if (neonInstalled.version !== neonAvailable) neonExtension.push('ALTER EXTENSION neon UPDATE');
    }
  }

  // 12. CreateAvailabilityCheck (the upsert is DML and runs every time, as upstream's does)
  const healthCheck = [
    ...(snap.healthCheckExists
      ? []
      : ['CREATE TABLE IF NOT EXISTS public.health_check (id int4 PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, updated_at timestamptz DEFAULT now())']),
    'INSERT INTO public.health_check VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET updated_at = now()',
  ];

  // 13. DropRoles
  const dropRoles = deleteRoles.map((r) => `DROP ROLE IF EXISTS ${quoteIdent(r)}`);

  // 14. FinalizeDropLogicalSubscriptions
  const finalize = dropSubscriptions
    ? [
        'CREATE TABLE IF NOT EXISTS neon.drop_subscriptions_done (id int4 PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, timeline_id text)',
        `INSERT INTO neon.drop_subscriptions_done VALUES (1, ${quoteLiteral(parsed.timelineId ?? '')}) ON CONFLICT (id) DO UPDATE SET timeline_id = EXCLUDED.timeline_id`,
      ]
    : [];

  // 15. Audit extensions (created once; the server must have them)
  const audit: string[] = [];
  const level = spec.audit_log_level ?? 'Disabled';
  if (level !== 'Disabled' && !snap.installedExtensions.has('pgaudit')) {
    audit.push('CREATE EXTENSION IF NOT EXISTS pgaudit WITH SCHEMA public');
    if (['Hipaa', 'Extended', 'Full'].includes(level)) audit.push('CREATE EXTENSION IF NOT EXISTS pgauditlogtofile WITH SCHEMA public');
    audit.push(`ALTER DATABASE ${quoteIdent(opts.systemDb)} SET pgaudit.log TO 'none'`);
  }

  return {
    preDrop,
    before: [
      seq('CreatePrivilegedRole', createPriv),
      { name: 'DropInvalidDatabases', groups: dropInvalid, parallel: false },
      seq('RenameRoles', renameRoles),
      seq('CreateAndAlterRoles', roleStatements),
      { name: 'RenameAndDeleteDatabases', groups: renameDelete, parallel: false },
      { name: 'CreateDatabases', groups: createDbs, parallel: true },
      seq('AlterDatabases', alterDbs),
      seq('CreateSchemaNeon', neonSchema),
    ],
    databases,
    deleteRoles,
    dropSubscriptions,
    after: [
      seq('HandleOtherExtensions', otherExtensions),
      seq('HandleNeonExtension', neonExtension),
      seq('CreateAvailabilityCheck', healthCheck),
      seq('DropRoles', dropRoles),
      seq('FinalizeDropLogicalSubscriptions', finalize),
      seq('Audit', audit),
    ],
  };
}

/** §5.6: disable, detach and drop every subscription of the current database. */
export const DROP_SUBSCRIPTIONS_SQL = `DO $x$
DECLARE
  sub text;
BEGIN
  LOCK TABLE pg_catalog.pg_subscription IN ACCESS EXCLUSIVE MODE;
  FOR sub IN SELECT s.subname FROM pg_catalog.pg_subscription s
              WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  LOOP
    EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', sub);
    EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', sub);
    EXECUTE format('DROP SUBSCRIPTION %I', sub);
  END LOOP;
END $x$`;

/**
 * Revokes what other roles granted to `role` on tables, each as its grantor (a superuser's REVOKE
 * only removes the owner's grants), so that DROP ROLE does not fail. Table by table: upstream's
 * `ON ALL TABLES IN SCHEMA public` fails wherever the grantor itself holds nothing.
 */
export function revokeGrantsBlock(role: string): string {
  const { literal, outerTag } = dollarQuote(role);
  return `DO $${outerTag}$
DECLARE
  g record;
BEGIN
  FOR g IN SELECT DISTINCT rtg.grantor, rtg.table_schema, rtg.table_name FROM information_schema.role_table_grants rtg
            WHERE rtg.grantee = ${literal} AND rtg.grantor <> ${literal}
  LOOP
    EXECUTE format('SET LOCAL ROLE %I', g.grantor);
    EXECUTE format('REVOKE ALL PRIVILEGES ON TABLE %I.%I FROM %I GRANTED BY %I', g.table_schema, g.table_name, ${literal}, g.grantor);
  END LOOP;
  RESET ROLE;
END $${outerTag}$`;
}

/** Phase 9 for one database, given what it holds. */
export function planDatabase(
  target: DatabaseTarget,
  snap: DatabaseSnapshot,
  plan: Pick<SystemPlan, 'deleteRoles' | 'dropSubscriptions'>,
  opts: PlanOptions,
  serverVersionNum: number,
): string[] {
  const out: string[] = [];
  // DeleteDBRoleReferences
  const newOwner = target.system ? opts.adminUser : target.owner;
  for (const role of plan.deleteRoles) {
    if (role === target.owner) continue;
    out.push(`REASSIGN OWNED BY ${quoteIdent(role)} TO ${quoteIdent(newOwner)}`, revokeGrantsBlock(role), `DROP OWNED BY ${quoteIdent(role)}`);
  }
  if (target.system) return out;
  // ChangeSchemaPerms
  if (snap.publicSchemaOwner === 'cloud_admin' || snap.publicSchemaOwner === 'zenith_admin') {
    out.push(`ALTER SCHEMA public OWNER TO ${quoteIdent(target.owner)}`);
  }
  if (serverVersionNum >= 150000 && snap.webAccessNeedsCreate) out.push('GRANT CREATE ON SCHEMA public TO web_access');
  if (snap.publicSchemaOwner !== null) {
    if (!snap.defaultPrivilegesComplete.tables) {
      out.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO ${opts.priv} WITH GRANT OPTION`);
    }
    if (!snap.defaultPrivilegesComplete.sequences) {
      out.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO ${opts.priv} WITH GRANT OPTION`);
    }
  }
  // DropLogicalSubscriptions
  if (plan.dropSubscriptions && snap.subscriptions > 0) out.push(DROP_SUBSCRIPTIONS_SQL);
  return out;
}

/** §5.7: concurrency of the per-database phase on the first start. */
export function firstStartConcurrency(parsed: ParsedSpec): number {
  let n: number | null = null;
  const setting = findOption(parsed.spec.cluster.settings, 'max_connections');
  if (setting !== null && /^\d+$/.test(setting)) n = Number(setting);
  else {
    const m = /^\s*max_connections\s*=\s*'?(\d+)'?/m.exec(parsed.spec.cluster.postgresql_conf ?? '');
    if (m) n = Number(m[1]);
  }
  if (n === null) return 10;
  if (n < 10) return Math.max(1, n);
  if (n < 30) return 10;
  if (n < 300) return Math.floor(n / 3);
  return 100;
}
