// The control plane's spec endpoint (reference §11):
// GET {uri}/compute/api/v2/computes/{id}/spec with `Authorization: Bearer $NEON_CONTROL_PLANE_TOKEN`.
// At most 3 attempts, 100 ms apart; transport errors, undecodable JSON, 502 and 503 are retried,
// any other status is final. Every attempt is counted.
import type { Counter } from 'prom-client';
import { parseComputeConfig, type ParsedConfig } from '../compute-spec/parse';

const ATTEMPTS = 3;
const PAUSE_MS = 100;

export interface ControlPlaneAnswer extends ParsedConfig {
  status: 'empty' | 'attached';
}

class Final extends Error {}

export async function fetchComputeConfig(
  uri: string,
  computeId: string,
  token: string,
  requests?: Counter<'rpc' | 'http_status'>,
): Promise<ControlPlaneAnswer> {
  const url = `${uri.replace(/\/+$/, '')}/compute/api/v2/computes/${encodeURIComponent(computeId)}/spec`;
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, PAUSE_MS));
    let res: Response;
    try {
      res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      requests?.inc({ rpc: 'GetConfig', http_status: 'unknown' });
      last = `request failed: ${(err as Error).message}`;
      continue;
    }
    requests?.inc({ rpc: 'GetConfig', http_status: `${res.status} ${res.statusText}`.trim() });
    if (res.status === 502 || res.status === 503) {
      last = `control plane answered ${res.status}`;
      continue;
    }
    if (!res.ok) throw new Error(`control plane answered ${res.status} for compute ${computeId}: ${(await res.text()).slice(0, 200)}`);
    let body: { status?: unknown; spec?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch (err) {
      last = `invalid JSON from the control plane: ${(err as Error).message}`;
      continue;
    }
    try {
      if (body.status !== 'empty' && body.status !== 'attached') throw new Final('control plane answer has no valid "status" (empty or attached)');
      const parsed = parseComputeConfig(body);
      if (body.status === 'attached' && !parsed.spec) throw new Final('compute is attached, but spec is empty');
      return { ...parsed, status: body.status };
    } catch (err) {
      throw new Error(`invalid answer from the control plane: ${(err as Error).message}`);
    }
  }
  throw new Error(`Exhausted all attempts to retrieve the config from the control plane (${last})`);
}
