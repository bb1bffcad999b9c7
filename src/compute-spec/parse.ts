// Parsing and parse-time validation of compute specs (reference §2.5-§2.7). The result is plain
// data, so it can travel through Temporal payloads unchanged.
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { TSchema, Static } from '@sinclair/typebox';
import {
  ComputeConfigSchema,
  ComputeSpecSchema,
  ConfigurationRequestSchema,
  PromoteRequestSchema,
  type ComputeCtlConfig,
  type ComputeSpec,
  type GenericOption,
  type PageserverConnectionInfo,
} from './schema';

export type ComputeMode = { type: 'primary' } | { type: 'static'; lsn: string } | { type: 'replica' };

export type StorageTarget =
  | { type: 'postgres'; connstring: string }
  | { type: 'neon'; pageserver: PageserverConnectionInfo; safekeepers: string[] };

export interface ParsedSpec {
  /** The spec as received (validated; unknown fields kept). */
  spec: ComputeSpec;
  mode: ComputeMode;
  tenantId: string | null;
  timelineId: string | null;
  storage: StorageTarget;
}

/**
 * A spec that cannot be used. `kind` tells the HTTP layer which status to answer:
 * 'schema' = wrong/missing fields (422), 'invalid' = parses but fails §2.7 (400).
 */
export class SpecError extends Error {
  constructor(
    message: string,
    readonly kind: 'schema' | 'invalid',
  ) {
    super(message);
    this.name = 'SpecError';
  }
}

const checkers = new Map<TSchema, TypeCheck<TSchema>>();
function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = checkers.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    checkers.set(schema, c);
  }
  return c as TypeCheck<T>;
}

/**
 * An optional object (`Opt`: the object or null) that is wrong inside: the object branch's own first
 * error names the field (`spec.remote_extensions.library_index: missing field`), not the union.
 */
function innermost(e: ValueError): ValueError {
  if (e.type !== ValueErrorType.Union || e.value === null || typeof e.value !== 'object') return e;
  const firsts = e.errors.map((it) => it.First()).filter((x): x is ValueError => x !== undefined);
  if (!firsts.some((x) => x.type === ValueErrorType.Null)) return e;
  const inner = firsts.find((x) => x.type !== ValueErrorType.Null && x.path !== e.path);
  return inner ? innermost(inner) : e;
}

function describeError(prefix: string, outer: ValueError): string {
  const e = innermost(outer);
  const path = prefix + e.path.replace(/^\//, '').split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');
  const where = path.replace(/^\./, '') || 'body';
  if (e.type === ValueErrorType.ObjectRequiredProperty) return `${where}: missing field`;
  if (where.endsWith('.mode')) return `${where}: unknown compute mode ${JSON.stringify(e.value)} (expected "Primary", "Replica" or {"Static": "X/X"})`;
  return `${where}: ${e.message.toLowerCase()}${e.value === undefined ? '' : `, got ${short(e.value)}`}`;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Validates `json` against `schema`; throws a SpecError naming the first offending field. */
export function decode<T extends TSchema>(schema: T, json: unknown, prefix = ''): Static<T> {
  const checker = checkerFor(schema);
  if (checker.Check(json)) return json as Static<T>;
  const first = checker.Errors(json).First();
  throw new SpecError(first ? describeError(prefix, first) : 'invalid document', 'schema');
}

/** The spec asks for TLS (feature tls_experimental); it is served only where the pod has compute_ctl_config.tls. */
export function wantsTls(parsed: ParsedSpec): boolean {
  return (parsed.spec.features ?? []).includes('tls_experimental');
}

export function findOption(options: GenericOption[] | null | undefined, name: string): string | null {
  return options?.find((o) => o.name === name)?.value ?? null;
}

const HEX32 = /^[0-9a-f]{32}$/;

function hexId(value: string | null, what: 'tenant' | 'timeline'): string {
  if (value === null) throw new SpecError(`${what} id should be provided`, 'invalid');
  if (!HEX32.test(value)) throw new SpecError(`invalid ${what} id`, 'invalid');
  return value;
}

export function shardKey(shardNumber: number, shardCount: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `${hex(shardNumber)}${hex(shardCount)}`;
}

function pageserverFromConnstrings(connstring: string, stripe: number | null): PageserverConnectionInfo {
  const urls = connstring.split(',').map((s) => s.trim()).filter(Boolean);
  const entry = (url: string) => ({ pageservers: [{ id: null, libpq_url: url, grpc_url: null }] });
  if (urls.length === 1) {
    return { shard_count: 0, stripe_size: null, shards: { '0000': entry(urls[0]) }, prefer_protocol: 'libpq' };
  }
  if (stripe === null) throw new SpecError(`${urls.length} shards but no stripe_size`, 'invalid');
  const shards: PageserverConnectionInfo['shards'] = {};
  urls.forEach((url, i) => (shards[shardKey(i, urls.length)] = entry(url)));
  return { shard_count: urls.length, stripe_size: stripe, shards, prefer_protocol: 'libpq' };
}

/** §2.5 resolution order: connection info, legacy connstring, then the GUC in cluster.settings. */
function resolvePageserver(spec: ComputeSpec): PageserverConnectionInfo {
  if (spec.pageserver_connection_info) return spec.pageserver_connection_info;
  if (spec.pageserver_connstring) {
    return pageserverFromConnstrings(spec.pageserver_connstring, spec.shard_stripe_size ?? null);
  }
  const settings = spec.cluster.settings;
  const guc = findOption(settings, 'neon.pageserver_connstring');
  if (guc) {
    const stripe = findOption(settings, 'neon.stripe_size');
    return pageserverFromConnstrings(guc, stripe === null ? null : Number(stripe));
  }
  throw new SpecError('pageserver connection information should be provided', 'invalid');
}

function resolveSafekeepers(spec: ComputeSpec, mode: ComputeMode): string[] {
  let list: string[] | null = null;
  if (spec.safekeeper_connstrings && spec.safekeeper_connstrings.length > 0) list = spec.safekeeper_connstrings;
  else {
    const guc = findOption(spec.cluster.settings, 'neon.safekeepers');
    if (guc !== null) list = guc.split(',').map((s) => s.trim()).filter(Boolean);
    else if (spec.safekeeper_connstrings) list = spec.safekeeper_connstrings;
  }
  if (mode.type !== 'primary') return list ?? [];
  if (list === null) throw new SpecError('safekeeper connstrings should be provided', 'invalid');
  if (list.length === 0) throw new SpecError('safekeeper_connstrings is empty', 'invalid');
  const sorted = [...list].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new SpecError(`duplicate entry in safekeeper_connstrings: ${sorted[i]}!`, 'invalid');
    }
  }
  return list;
}

export function computeMode(spec: ComputeSpec): ComputeMode {
  const mode = spec.mode ?? 'Primary';
  if (mode === 'Primary') return { type: 'primary' };
  if (mode === 'Replica') return { type: 'replica' };
  return { type: 'static', lsn: mode.Static.toUpperCase() };
}

/** Validates a ComputeSpec (schema, then §2.7) and resolves what the startup needs. */
const MAX_PORT = 65_535;

function checkPort(port: string, where: string): void {
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > MAX_PORT) {
    throw new SpecError(`${where}: port ${JSON.stringify(port.slice(0, 20))} is not a port number (1-${MAX_PORT})`, 'invalid');
  }
}

/** The port of a libpq connection string, URL (`postgresql://h:p/db`) or key=value (`host=h port=p`) form. */
function checkConnstringPort(connstring: string, where: string): void {
  const url = /^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?([^/?#]*)/.exec(connstring);
  if (url) {
    // host[:port] entries, comma-separated; IPv6 in brackets.
    for (const hostPort of url[1].split(',')) {
      const m = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort);
      if (m?.[1] !== undefined && m[1] !== '') checkPort(m[1], where);
    }
    const query = /[?&]port=([^&#]*)/.exec(connstring);
    if (query) checkPort(decodeURIComponent(query[1]), where);
    return;
  }
  for (const m of connstring.matchAll(/(?:^|\s)port\s*=\s*'?([^'\s]*)'?/g)) checkPort(m[1], where);
}

/** Every port a spec names is a port number (a wrong one would only fail later, deep in a start). */
function checkPorts(spec: ComputeSpec, prefix: string): void {
  if (spec.storage?.type === 'postgres') checkConnstringPort(spec.storage.connstring, `${prefix}.storage.connstring`);
  for (const [key, shard] of Object.entries(spec.pageserver_connection_info?.shards ?? {})) {
    for (const [i, ps] of shard.pageservers.entries()) {
      const where = `${prefix}.pageserver_connection_info.shards.${key}.pageservers[${i}]`;
      if (ps.libpq_url) checkConnstringPort(ps.libpq_url, `${where}.libpq_url`);
      if (ps.grpc_url) {
        const m = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^:/]*)(?::([^/]*))?/.exec(ps.grpc_url);
        if (m?.[1] !== undefined) checkPort(m[1], `${where}.grpc_url`);
      }
    }
  }
  for (const [i, conn] of (spec.pageserver_connstring ?? '').split(',').map((c) => c.trim()).filter(Boolean).entries()) {
    checkConnstringPort(conn, `${prefix}.pageserver_connstring[${i}]`);
  }
  for (const [i, sk] of (spec.safekeeper_connstrings ?? []).entries()) {
    const m = /^(?:\[[^\]]*\]|[^:]+):(.*)$/.exec(sk);
    if (!m) throw new SpecError(`${prefix}.safekeeper_connstrings[${i}]: ${JSON.stringify(sk.slice(0, 80))} is not host:port`, 'invalid');
    checkPort(m[1], `${prefix}.safekeeper_connstrings[${i}]`);
  }
  for (const line of (spec.cluster.postgresql_conf ?? '').split('\n')) {
    const m = /^\s*port\s*=?\s*'?([^'#\s]*)'?\s*(?:#.*)?$/.exec(line);
    if (m) checkPort(m[1], `${prefix}.cluster.postgresql_conf`);
  }
}

export function parseComputeSpec(json: unknown, prefix = 'spec'): ParsedSpec {
  const spec = decode(ComputeSpecSchema, json, prefix);
  checkPorts(spec, prefix);
  const mode = computeMode(spec);
  const settings = spec.cluster.settings;
  const tenant = spec.tenant_id ?? findOption(settings, 'neon.tenant_id');
  const timeline = spec.timeline_id ?? findOption(settings, 'neon.timeline_id');

  if (spec.storage?.type === 'postgres') {
    // The upstream PostgreSQL is the storage: no pageserver, safekeepers or Neon ids are needed.
    return {
      spec,
      mode,
      tenantId: tenant && HEX32.test(tenant) ? tenant : null,
      timelineId: timeline && HEX32.test(timeline) ? timeline : null,
      storage: { type: 'postgres', connstring: spec.storage.connstring },
    };
  }
  const pageserver = resolvePageserver(spec);
  const tenantId = hexId(tenant, 'tenant');
  const timelineId = hexId(timeline, 'timeline');
  const safekeepers = resolveSafekeepers(spec, mode);
  return { spec, mode, tenantId, timelineId, storage: { type: 'neon', pageserver, safekeepers } };
}

export interface ParsedConfig {
  spec: ParsedSpec | null;
  computeCtlConfig: ComputeCtlConfig;
}

/** The `--config` file / control-plane answer: `{spec?, compute_ctl_config}`. */
export function parseComputeConfig(json: unknown): ParsedConfig {
  const config = decode(ComputeConfigSchema, json);
  return {
    spec: config.spec ? parseComputeSpec(config.spec) : null,
    computeCtlConfig: config.compute_ctl_config,
  };
}

/** A /promote body: the spec is parsed as the Primary it becomes, whatever mode it names. */
/** /promote's body. Neon answers 400 to any body it cannot use there, its shape included. */
export function parsePromoteRequest(json: unknown): { spec: ParsedSpec; walFlushLsn: string } {
  try {
    const request = decode(PromoteRequestSchema, json);
    if (!request.spec || typeof request.spec !== 'object' || Array.isArray(request.spec)) throw new SpecError('spec: missing field', 'schema');
    return { spec: parseComputeSpec({ ...(request.spec as object), mode: 'Primary' }), walFlushLsn: request.wal_flush_lsn.toUpperCase() };
  } catch (err) {
    throw err instanceof SpecError && err.kind === 'schema' ? new SpecError(err.message, 'invalid') : err;
  }
}

/**
 * The spec a promoted replica runs with (Neon's merge): the given Primary spec, but Postgres keeps
 * the port it listens on, and neon.safekeepers is not taken from the text (the safekeepers are
 * set by the promotion itself).
 */
export function promotedSpec(given: ParsedSpec, current: ParsedSpec): ParsedSpec {
  const setting = (line: string) => line.split('=')[0].trim();
  const currentPort = (current.spec.cluster.postgresql_conf ?? '').split('\n').find((l) => setting(l) === 'port');
  const lines = (given.spec.cluster.postgresql_conf ?? '').split('\n').filter((l) => l.trim() && setting(l) !== 'neon.safekeepers' && setting(l) !== 'port');
  if (currentPort) lines.push(currentPort);
  const conf = lines.length ? `${lines.join('\n')}\n` : given.spec.cluster.postgresql_conf;
  return { ...given, spec: { ...given.spec, cluster: { ...given.spec.cluster, postgresql_conf: conf } } };
}

/** The body of `POST /configure`: `{spec, compute_ctl_config}`, both required. */
export function parseConfigurationRequest(json: unknown): ParsedSpec {
  const request = decode(ConfigurationRequestSchema, json);
  return parseComputeSpec(request.spec);
}

/** JSON with object keys sorted, so that equal values compare equal as text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * §10's rule for a refreshed spec: reconfigure only when the storage it reads pages from changed
 * (Neon: the pageserver connection info — shard count, stripe size, shards, protocol; the postgres
 * backend: the upstream connstring).
 */
export function sameStorageSource(a: ParsedSpec, b: ParsedSpec): boolean {
  if (a.storage.type === 'neon' && b.storage.type === 'neon') return canonical(a.storage.pageserver) === canonical(b.storage.pageserver);
  if (a.storage.type === 'postgres' && b.storage.type === 'postgres') return a.storage.connstring === b.storage.connstring;
  return false;
}
