// The statements that reconcile the catalog with the spec: §5.5's phases as one ordered table, like
// Neon's ApplySpecPhase list. Each phase plans from the snapshot and from what the phases before it
// changed (working copies of the roles and databases), so only real changes are issued. Pure:
// unit-tested without a server.
import { findOption, type ParsedSpec } from '../../compute-spec/parse';
import type { ComputeSpec, DeltaOp } from '../../compute-spec/schema';
import { DROP_SUBSCRIPTIONS, revokeGrantsFrom } from './do-blocks';
import type { ClusterSnapshot, DatabaseSnapshot, DatabaseState } from './snapshot';
import { passwordClause, quoteIdent, quoteLiteral, renderSqlOptions, samePassword } from './sql';

export const PRIVILEGED_ROLE_PATTERN = /^[a-z_]+$/;

/** The write every apply (§5.5) and every POST /check_writability (§6.3) makes. */
export const HEALTH_CHECK_UPSERT = 'INSERT INTO public.health_check VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET updated_at = now()';

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

/** A database the per-database phase visits. */
export interface DatabaseTarget {
  name: string;
  owner: string;
  system: boolean;
}

/** One planned phase, in the order it runs. */
export type PlannedPhase =
  /** Statements on the system database; `parallel` groups may run on several connections. */
  | { name: string; where: 'system'; groups: Group[]; parallel: boolean }
  /** Phase 0: databases about to be deleted, whose subscriptions are dropped in each first. */
  | { name: 'PreDropSubscriptions'; where: 'databases-to-drop'; databases: string[] }
  /** Phase 9: planned in each database from its own snapshot (planDatabase). */
  | { name: 'PerDatabase'; where: 'each-database'; databases: DatabaseTarget[] };

/** What planDatabase needs to know of the whole plan. */
export interface PerDatabaseContext {
  /** Roles deleted by delta operations that exist. */
  deleteRoles: string[];
  dropSubscriptions: boolean;
}

export interface CatalogPlan extends PerDatabaseContext {
  phases: PlannedPhase[];
}

/** What every phase plans from. `roles` and `dbs` start as the snapshot's and are changed by the phases. */
interface PlanContext {
  parsed: ParsedSpec;
  spec: ComputeSpec;
  ops: DeltaOp[];
  snap: ClusterSnapshot;
  opts: PlanOptions;
  /** rolname → rolpassword */
  roles: Map<string, string | null>;
  dbs: Map<string, DatabaseState>;
}

type SystemPhase = { phase: string; where: 'system'; parallel?: boolean; plan(ctx: PlanContext): Group[] };
type Phase =
  | SystemPhase
  | { phase: 'PreDropSubscriptions'; where: 'databases-to-drop'; plan(ctx: PlanContext): string[] }
  | { phase: 'PerDatabase'; where: 'each-database'; plan(ctx: PlanContext): DatabaseTarget[] };

/** One group of statements run in order (or none). */
const inOrder = (statements: string[]): Group[] => (statements.length ? [statements] : []);

const usable = (d: DatabaseState | undefined): d is DatabaseState => d !== undefined && !d.restrictConn && !d.invalid;

function localProxyRoles(spec: ComputeSpec): Set<string> {
  return new Set((spec.local_proxy_config?.jwks ?? []).flatMap((j) => j.role_names));
}

/** Roles the delta operations delete that exist (after renames and creations). */
const deletedRoles = (ctx: PlanContext) => ctx.ops.filter((op) => op.action === 'delete_role' && ctx.roles.has(op.name)).map((op) => op.name);

const dropsSubscriptions = (ctx: PlanContext) => Boolean(ctx.spec.drop_subscriptions_before_start) && !ctx.snap.subscriptionsDropped;

/** §5.5's phases, in the order they run. */
export const PHASES: readonly Phase[] = [
  {
    // A database with an active subscription cannot be dropped.
    phase: 'PreDropSubscriptions',
    where: 'databases-to-drop',
    plan: ({ ops, dbs }) => ops.filter((op) => op.action === 'delete_db' && usable(dbs.get(op.name))).map((op) => op.name),
  },
  {
    phase: 'CreatePrivilegedRole',
    where: 'system',
    plan: ({ roles, opts }) => {
      if (roles.has(opts.priv)) return [];
      roles.set(opts.priv, null);
      return [[`CREATE ROLE ${opts.priv} CREATEDB CREATEROLE NOLOGIN REPLICATION BYPASSRLS IN ROLE pg_read_all_data, pg_write_all_data`]];
    },
  },
  {
    // An interrupted DROP DATABASE leaves an invalid one behind.
    phase: 'DropInvalidDatabases',
    where: 'system',
    plan: ({ dbs }) => {
      const groups: Group[] = [];
      for (const [name, d] of dbs) {
        if (!d.invalid) continue;
        groups.push([`DROP DATABASE IF EXISTS ${quoteIdent(name)}`]);
        dbs.delete(name);
      }
      return groups;
    },
  },
  {
    // Intended behaviour (§13): rename when the old role exists.
    phase: 'RenameRoles',
    where: 'system',
    plan: ({ ops, roles }) => {
      const out: string[] = [];
      for (const op of ops) {
        if (op.action !== 'rename_role' || !op.new_name || !roles.has(op.name)) continue;
        out.push(`ALTER ROLE ${quoteIdent(op.name)} RENAME TO ${quoteIdent(op.new_name)}`);
        roles.delete(op.name);
        // Renaming clears an md5 password (the name is its salt): the next phase sets it again.
        roles.set(op.new_name, null);
      }
      return inOrder(out);
    },
  },
  {
    phase: 'CreateAndAlterRoles',
    where: 'system',
    plan: ({ spec, roles, opts }) => {
      const plainRoles = localProxyRoles(spec);
      const out: string[] = [];
      for (const role of spec.cluster.roles) {
        const name = quoteIdent(role.name);
        const tail = `${renderSqlOptions(role.options)} LOGIN ${passwordClause(role.encrypted_password)}`;
        if (!roles.has(role.name)) {
          out.push(
            plainRoles.has(role.name)
              ? `CREATE ROLE ${name}${tail}`
              : `CREATE ROLE ${name} INHERIT CREATEROLE CREATEDB BYPASSRLS REPLICATION IN ROLE ${opts.priv}${tail}`,
          );
          roles.set(role.name, role.encrypted_password ?? null);
        } else if (!samePassword(roles.get(role.name) ?? null, role.encrypted_password)) {
          out.push(`ALTER ROLE ${name}${tail}`);
        }
      }
      return inOrder(out);
    },
  },
  {
    // In delta order.
    phase: 'RenameAndDeleteDatabases',
    where: 'system',
    plan: ({ ops, dbs }) => {
      const groups: Group[] = [];
      for (const op of ops) {
        if (op.action === 'delete_db') {
          const d = dbs.get(op.name);
          if (!d) continue;
          const group = d.isTemplate ? [`ALTER DATABASE ${quoteIdent(op.name)} is_template false`] : [];
          group.push(`DROP DATABASE IF EXISTS ${quoteIdent(op.name)} WITH (FORCE)`);
          groups.push(group);
          dbs.delete(op.name);
        } else if (op.action === 'rename_db' && op.new_name && dbs.has(op.name)) {
          groups.push([`ALTER DATABASE ${quoteIdent(op.name)} RENAME TO ${quoteIdent(op.new_name)}`]);
          dbs.set(op.new_name, dbs.get(op.name)!);
          dbs.delete(op.name);
        }
      }
      return groups;
    },
  },
  {
    // The first half of CreateAndAlterDatabases: creations are independent of each other.
    phase: 'CreateDatabases',
    where: 'system',
    parallel: true,
    plan: ({ spec, dbs, opts }) => {
      const groups: Group[] = [];
      for (const db of spec.cluster.databases) {
        if (dbs.has(db.name)) continue;
        const name = quoteIdent(db.name);
        groups.push([`CREATE DATABASE ${name}${renderSqlOptions(db.options)} OWNER ${quoteIdent(db.owner)}`, `GRANT ALL PRIVILEGES ON DATABASE ${name} TO ${opts.priv}`]);
        dbs.set(db.name, { owner: db.owner, restrictConn: false, invalid: false, isTemplate: false });
      }
      return groups;
    },
  },
  {
    phase: 'AlterDatabases',
    where: 'system',
    plan: ({ spec, dbs }) => {
      const out: string[] = [];
      for (const db of spec.cluster.databases) {
        const existing = dbs.get(db.name)!;
        if (existing.owner === db.owner) continue;
        out.push(`ALTER DATABASE ${quoteIdent(db.name)} OWNER TO ${quoteIdent(db.owner)}`);
        existing.owner = db.owner;
      }
      return inOrder(out);
    },
  },
  {
    phase: 'CreateSchemaNeon',
    where: 'system',
    plan: ({ snap }) => (snap.neonSchemaExists ? [] : [['CREATE SCHEMA IF NOT EXISTS neon']]),
  },
  {
    // Every spec database and the system database that can be connected to (planDatabase).
    phase: 'PerDatabase',
    where: 'each-database',
    plan: ({ spec, dbs, opts }) => {
      const targets: DatabaseTarget[] = [];
      for (const name of new Set([...spec.cluster.databases.map((d) => d.name), opts.systemDb])) {
        const d = dbs.get(name);
        if (usable(d)) targets.push({ name, owner: d.owner, system: name === opts.systemDb });
      }
      return targets;
    },
  },
  {
    phase: 'HandleOtherExtensions',
    where: 'system',
    plan: ({ spec, snap }) => {
      const preload = findOption(spec.cluster.settings, 'shared_preload_libraries') ?? '';
      const wanted = preload.includes('pg_stat_statements') && snap.availableExtensions.has('pg_stat_statements');
      return wanted && !snap.installedExtensions.has('pg_stat_statements') ? [['CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA public']] : [];
    },
  },
  {
    // Only where the server has it (plain PostgreSQL does not).
    phase: 'HandleNeonExtension',
    where: 'system',
    plan: ({ snap }) => {
      const available = snap.availableExtensions.get('neon');
      const installed = snap.installedExtensions.get('neon');
      if (available === undefined) return [];
      if (!installed) return [['CREATE EXTENSION IF NOT EXISTS neon WITH SCHEMA neon']];
      const out: string[] = [];
      if (installed.schema !== 'neon') {
        out.push("UPDATE pg_catalog.pg_extension SET extrelocatable = true WHERE extname = 'neon' AND extrelocatable = false", 'ALTER EXTENSION neon SET SCHEMA neon');
      }
      if (installed.version !== available) out.push('ALTER EXTENSION neon UPDATE');
      return inOrder(out);
    },
  },
  {
    // The upsert is DML and runs every time, as upstream's does.
    phase: 'CreateAvailabilityCheck',
    where: 'system',
    plan: ({ snap }) =>
      inOrder([
        ...(snap.healthCheckExists
          ? []
          : ['CREATE TABLE IF NOT EXISTS public.health_check (id int4 PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, updated_at timestamptz DEFAULT now())']),
        HEALTH_CHECK_UPSERT,
      ]),
  },
  {
    phase: 'DropRoles',
    where: 'system',
    plan: (ctx) => inOrder(deletedRoles(ctx).map((r) => `DROP ROLE IF EXISTS ${quoteIdent(r)}`)),
  },
  {
    phase: 'FinalizeDropLogicalSubscriptions',
    where: 'system',
    plan: (ctx) =>
      dropsSubscriptions(ctx)
        ? [[
            'CREATE TABLE IF NOT EXISTS neon.drop_subscriptions_done (id int4 PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, timeline_id text)',
            `INSERT INTO neon.drop_subscriptions_done VALUES (1, ${quoteLiteral(ctx.parsed.timelineId ?? '')}) ON CONFLICT (id) DO UPDATE SET timeline_id = EXCLUDED.timeline_id`,
          ]]
        : [],
  },
  {
    // Created once; the server must have them.
    phase: 'Audit',
    where: 'system',
    plan: ({ spec, snap, opts }) => {
      const level = spec.audit_log_level ?? 'Disabled';
      if (level === 'Disabled' || snap.installedExtensions.has('pgaudit')) return [];
      return inOrder([
        'CREATE EXTENSION IF NOT EXISTS pgaudit WITH SCHEMA public',
        ...(['Hipaa', 'Extended', 'Full'].includes(level) ? ['CREATE EXTENSION IF NOT EXISTS pgauditlogtofile WITH SCHEMA public'] : []),
        `ALTER DATABASE ${quoteIdent(opts.systemDb)} SET pgaudit.log TO 'none'`,
      ]);
    },
  },
];

export function assertPrivilegedRoleName(priv: string): void {
  if (!PRIVILEGED_ROLE_PATTERN.test(priv)) throw new Error(`invalid privileged role name: ${priv}`);
}

/** Plans every phase of the table, in order. */
export function planCatalog(parsed: ParsedSpec, snap: ClusterSnapshot, opts: PlanOptions): CatalogPlan {
  assertPrivilegedRoleName(opts.priv);
  const ctx: PlanContext = {
    parsed,
    spec: parsed.spec,
    ops: parsed.spec.delta_operations ?? [],
    snap,
    opts,
    roles: new Map(snap.roles),
    dbs: new Map([...snap.databases].map(([name, d]) => [name, { ...d }])),
  };
  const phases = PHASES.map((p): PlannedPhase => {
    switch (p.where) {
      case 'system':
        return { name: p.phase, where: 'system', groups: p.plan(ctx), parallel: p.parallel ?? false };
      case 'databases-to-drop':
        return { name: p.phase, where: p.where, databases: p.plan(ctx) };
      case 'each-database':
        return { name: p.phase, where: p.where, databases: p.plan(ctx) };
    }
  });
  return { phases, deleteRoles: deletedRoles(ctx), dropSubscriptions: dropsSubscriptions(ctx) };
}

/** Phase 9 for one database, given what it holds. */
export function planDatabase(target: DatabaseTarget, snap: DatabaseSnapshot, plan: PerDatabaseContext, opts: PlanOptions, serverVersionNum: number): string[] {
  const out: string[] = [];
  // DeleteDBRoleReferences
  const newOwner = target.system ? opts.adminUser : target.owner;
  for (const role of plan.deleteRoles) {
    if (role === target.owner) continue;
    out.push(`REASSIGN OWNED BY ${quoteIdent(role)} TO ${quoteIdent(newOwner)}`, revokeGrantsFrom(role), `DROP OWNED BY ${quoteIdent(role)}`);
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
  if (plan.dropSubscriptions && snap.subscriptions > 0) out.push(DROP_SUBSCRIPTIONS);
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
