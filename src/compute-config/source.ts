// Where a compute's config comes from (reference §1, §11): the --config file, or the control plane.
// Read when the worker starts, and again when Postgres asks for a refresh (§10).
import { readFile } from 'node:fs/promises';
import type { Counter } from 'prom-client';
import { parseComputeConfig, type ParsedConfig } from '../compute-spec/parse';
import { fetchComputeConfig } from './control-plane';

export interface ConfigSource {
  /** A ComputeConfig file (`{spec?, compute_ctl_config}`). */
  configPath?: string;
  /** Control-plane base URL (§11); conflicts with configPath. */
  controlPlaneUri?: string;
  /** NEON_CONTROL_PLANE_TOKEN */
  controlPlaneToken?: string;
}

export async function readConfigFile(path: string): Promise<ParsedConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read --config ${path}: ${(err as Error).message}`);
  }
  try {
    return parseComputeConfig(json);
  } catch (err) {
    throw new Error(`invalid --config ${path}: ${(err as Error).message}`);
  }
}

/** The config from the file or the control plane (with §11's retries); null when the worker has neither. */
export async function loadConfig(source: ConfigSource, computeId: string, requests?: Counter<'rpc' | 'http_status'>): Promise<ParsedConfig | null> {
  if (source.controlPlaneUri) return fetchComputeConfig(source.controlPlaneUri, computeId, source.controlPlaneToken ?? '', requests);
  if (source.configPath) return readConfigFile(source.configPath);
  return null;
}
