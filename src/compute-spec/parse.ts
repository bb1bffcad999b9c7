// Parsing and parse-time validation of compute specs (reference §2.5-§2.7). The result is plain
// data, so it can travel through Temporal payloads unchanged.
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { TSchema, Static } from '@sinclair/typebox';
import {
  ComputeConfigSchema,
  ComputeSpecSchema,
  ConfigurationRequestSchema,
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

function describeError(prefix: string, e: ValueError): string {
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
export function parseComputeSpec(json: unknown, prefix = 'spec'): ParsedSpec {
  const spec = decode(ComputeSpecSchema, json, prefix);
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

/** The body of `POST /configure`: `{spec, compute_ctl_config}`, both required. */
export function parseConfigurationRequest(json: unknown): ParsedSpec {
  const request = decode(ConfigurationRequestSchema, json);
  return parseComputeSpec(request.spec);
}
