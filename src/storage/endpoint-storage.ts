// Neon's endpoint storage, where a compute keeps its LFC state between starts (reference §6.3):
// `http://<endpoint_storage_addr>/<tenant>/<timeline>/<endpoint_id>/lfc_state`, bearer
// endpoint_storage_token. The address and token come from the spec, or its settings
// neon.endpoint_storage_addr / neon.endpoint_storage_token.
import { findOption, type ParsedSpec } from '../compute-spec/parse';

const KEY = 'lfc_state';
/** A stuck endpoint storage fails the request rather than the operation hanging for ever. */
const REQUEST_TIMEOUT_MS = 60_000;

export interface EndpointStorageObject {
  url: string;
  token: string;
}

/**
 * Where the LFC state of `fromEndpoint` (another endpoint's, for a prewarm before a promotion) or
 * of the spec's own endpoint_id is kept. Throws naming what the spec lacks.
 */
export function lfcStateObject(parsed: ParsedSpec, fromEndpoint: string | null = null): EndpointStorageObject {
  const { spec } = parsed;
  const endpointId = fromEndpoint ?? spec.endpoint_id;
  if (!endpointId) throw new Error('pspec.endpoint_id missing, other endpoint_id not provided');
  const addr = spec.endpoint_storage_addr ?? findOption(spec.cluster.settings, 'neon.endpoint_storage_addr');
  if (!addr) throw new Error('pspec.endpoint_storage_addr missing');
  const token = spec.endpoint_storage_token ?? findOption(spec.cluster.settings, 'neon.endpoint_storage_token');
  if (!token) throw new Error('pspec.endpoint_storage_token missing');
  if (!parsed.tenantId || !parsed.timelineId) throw new Error('the spec names no tenant_id and timeline_id (32 hex digits each), which key the LFC state');
  const path = [parsed.tenantId, parsed.timelineId, endpointId, KEY].map(encodeURIComponent).join('/');
  return { url: `http://${addr}/${path}`, token };
}

/** The stored state, or null when there is none (404). */
export async function readObject(o: EndpointStorageObject, signal?: AbortSignal): Promise<Buffer | null> {
  const res = await request(o, { method: 'GET' }, signal);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`${res.status} ${res.statusText} querying endpoint storage`);
  return Buffer.from(await res.arrayBuffer());
}

export async function writeObject(o: EndpointStorageObject, body: Uint8Array): Promise<void> {
  const res = await request(o, { method: 'PUT', body }, undefined);
  await res.arrayBuffer().catch(() => undefined);
  if (res.status !== 200) throw new Error(`request to endpoint storage failed: ${res.status} ${res.statusText}`);
}

async function request(o: EndpointStorageObject, init: RequestInit, signal: AbortSignal | undefined): Promise<Response> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    return await fetch(o.url, { ...init, headers: { authorization: `Bearer ${o.token}` }, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (err) {
    if (signal?.aborted) throw err;
    // fetch's own text ("fetch failed") says nothing: name the place and the cause, never the token.
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new Error(`endpoint storage at ${new URL(o.url).host} unreachable: ${cause}`);
  }
}
