// Rendering of postgresql.conf, pg_hba.conf and friends (reference §2.3, §4.3, §4.6). Pure
// functions of the spec and the worker's options, so they are unit-tested without a server.
import type { GenericOption } from '../compute-spec/schema';
import { shardKey, type ParsedSpec } from '../compute-spec/parse';

/** A configuration-file string literal: single quotes, `'` doubled, `\` doubled. */
export function confQuote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** `name = value` for a GenericOption used as a setting (§2.3). */
export function renderSetting(opt: GenericOption): string {
  if (opt.value === null || opt.value === undefined) return opt.name;
  return `${opt.name} = ${opt.vartype === 'string' ? confQuote(opt.value) : opt.value}`;
}

export interface ConfOptions {
  internalHttpPort: number;
  privilegedRoleName: string;
  /** Contents of /proc/sys/vm/overcommit_memory, if known. */
  overcommitMemory?: string | null;
  /** The server's major version: settings a version lacks must not be written (it would refuse to start). */
  pgMajor: number;
  /** Whether the server has Neon's `neon` library (a vanilla PostgreSQL has not). */
  neonLibrary: boolean;
  /** TLS on (§4.3 step 6): server.key and server.crt are in PGDATA. */
  tls?: boolean;
}

function neonStorageLines(parsed: ParsedSpec): string[] {
  const { spec } = parsed;
  const lines: string[] = [];
  if (parsed.storage.type === 'neon') {
    const info = spec.pageserver_connection_info;
    if (info) {
      if (info.stripe_size !== null && info.stripe_size !== undefined) {
        lines.push('# stripe size of the sharded tenant', `neon.stripe_size=${info.stripe_size}`);
      }
      const urls: (string | null)[] = [];
      for (let shard = 0; shard < Math.max(1, info.shard_count); shard++) {
        urls.push(info.shards[shardKey(shard, info.shard_count)]?.pageservers[0]?.libpq_url ?? null);
      }
      if (urls.every((u) => u !== null)) {
        lines.push('# pageserver of every shard, in shard order', `neon.pageserver_connstring=${confQuote(urls.join(','))}`);
      } else {
        lines.push('# no neon.pageserver_connstring');
      }
    } else {
      if (spec.shard_stripe_size !== null && spec.shard_stripe_size !== undefined) {
        lines.push(`neon.stripe_size=${spec.shard_stripe_size}`);
      }
      if (spec.pageserver_connstring) {
        lines.push(`neon.pageserver_connstring=${confQuote(spec.pageserver_connstring)}`);
      }
    }
  }
  const safekeepers = spec.safekeeper_connstrings ?? [];
  if (safekeepers.length > 0) {
    const gen = spec.safekeepers_generation;
    const prefix = gen !== null && gen !== undefined ? `g#${gen}:` : '';
    lines.push(`neon.safekeepers=${confQuote(prefix + safekeepers.join(','))}`);
  }
  const ids: [string, string | null | undefined][] = [
    ['neon.tenant_id', spec.tenant_id],
    ['neon.timeline_id', spec.timeline_id],
    ['neon.project_id', spec.project_id],
    ['neon.branch_id', spec.branch_id],
    ['neon.endpoint_id', spec.endpoint_id],
  ];
  for (const [name, value] of ids) if (value) lines.push(`${name}=${confQuote(value)}`);
  return lines;
}

/** Our postgres storage backend: standbys stream from the upstream. */
function upstreamStorageLines(parsed: ParsedSpec): string[] {
  if (parsed.storage.type !== 'postgres' || parsed.mode.type === 'primary') return [];
  return ['# upstream PostgreSQL storage', `primary_conninfo=${confQuote(parsed.storage.connstring)}`];
}

const AUDIT_BASE = ['Log', 'Base'];
const AUDIT_FULL = ['Hipaa', 'Extended', 'Full'];

/**
 * §4.3 step 12. shared_preload_libraries starts from the spec's setting, else from `neon` where the
 * server has Neon's library (Neon's images always do; a vanilla server has none, and naming it
 * would keep Postgres from starting).
 */
function auditLines(parsed: ParsedSpec, neonLibrary: boolean): string[] {
  const level = parsed.spec.audit_log_level ?? 'Disabled';
  if (level === 'Disabled') return [];
  const preload = parsed.spec.cluster.settings?.find((o) => o.name === 'shared_preload_libraries')?.value ?? (neonLibrary ? 'neon' : '');
  const withLib = (libs: string, lib: string) => (libs ? `${libs},${lib}` : lib);
  if (AUDIT_BASE.includes(level)) {
    return [
      '# Managed by compute_ctl audit settings: begin',
      "pgaudit.log='ddl,role'",
      'pgaudit.log_catalog=off',
      `shared_preload_libraries=${confQuote(withLib(preload, 'pgaudit'))}`,
      '# Managed by compute_ctl audit settings: end',
    ];
  }
  if (!AUDIT_FULL.includes(level)) return [];
  let libs = preload;
  for (const lib of ['pgaudit', 'pgauditlogtofile']) if (!libs.includes(lib)) libs = withLib(libs, lib);
  return [
    '# Managed by compute_ctl audit settings: begin',
    level === 'Full' ? 'pgaudit.log_parameter=on' : 'pgaudit.log_parameter=off',
    level === 'Full' ? "pgaudit.log='all'" : "pgaudit.log='all, -misc'",
    'pgaudit.log_catalog=off',
    'pgaudit.log_rotation_age=5',
    `shared_preload_libraries=${confQuote(libs)}`,
    '# Managed by compute_ctl audit settings: end',
  ];
}

/** postgresql.conf in the order of §4.3 step 2. Rewritten whole on every (re)configuration. */
export function renderPostgresqlConf(parsed: ParsedSpec, opts: ConfOptions): string {
  const { spec, mode } = parsed;
  const out: string[] = [];
  if (spec.cluster.postgresql_conf) out.push(spec.cluster.postgresql_conf);
  out.push('# Neon storage settings', '');
  out.push(...neonStorageLines(parsed), ...upstreamStorageLines(parsed));
  if (opts.tls) out.push('ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'");
  out.push("lc_messages='C.UTF-8'", "lc_monetary='C.UTF-8'", "lc_time='C.UTF-8'", "lc_numeric='C.UTF-8'");
  // PostgreSQL 16 no longer lets a CREATEROLE role use the roles it creates unless granted: a user
  // role (which has CREATEROLE) gets them with SET and INHERIT, as before 16. Settings may override it.
  if (opts.pgMajor >= 16) out.push("createrole_self_grant = 'set, inherit'");
  out.push(`neon.compute_mode=${mode.type}`);
  if (mode.type === 'static') out.push('hot_standby=on', `recovery_target_lsn='${mode.lsn}'`);
  if (mode.type === 'replica') out.push('hot_standby=on');
  if (opts.overcommitMemory?.trim() === '2') out.push('dynamic_shared_memory_type = mmap');
  out.push(`neon.privileged_role_name=${confQuote(opts.privilegedRoleName)}`);
  if (spec.cluster.settings) {
    out.push('# Managed by compute_ctl: begin');
    for (const opt of spec.cluster.settings) out.push(renderSetting(opt));
    out.push('# Managed by compute_ctl: end');
  }
  out.push(...auditLines(parsed, opts.neonLibrary));
  out.push(`neon.extension_server_port=${opts.internalHttpPort}`);
  out.push(`neon.disable_logical_replication_subscribers=${spec.drop_subscriptions_before_start ? 'true' : 'false'}`);
  if (spec.logs_export_host) out.push("log_destination='stderr,syslog'");
  out.push("include_if_exists = 'compute_ctl_temp_override.conf'");
  return `${out.join('\n')}\n`;
}

/** Neon's sample pg_hba.conf, as its basebackups carry it (§4.5), with §4.6's md5 line. */
export const PG_HBA_MD5_LINE = 'host\tall\t\tall\t\tall\t\tmd5';

export function renderPgHba(): string {
  return [
    '# TYPE  DATABASE        USER            ADDRESS                 METHOD',
    'local   all             all                                     trust',
    'host    all             all             127.0.0.1/32            trust',
    'host    all             all             ::1/128                 trust',
    'local   replication     all                                     trust',
    'host    replication     all             127.0.0.1/32            trust',
    'host    replication     all             ::1/128                 trust',
    PG_HBA_MD5_LINE,
    '',
  ].join('\n');
}

/** §4.6: make sure the md5 catch-all line is present, appending it after a newline if not. */
export function ensureMd5Line(hba: string): string {
  if (hba.split('\n').includes(PG_HBA_MD5_LINE)) return hba;
  return `${hba}\n${PG_HBA_MD5_LINE}\n`;
}
