// §10: the config fetched again when Postgres asks for a refresh, from where the worker got it at
// start (the --config file, or the control plane with §11's retries).
import type { Counter } from 'prom-client';
import { ComputeFailure, FAILURE } from '../compute/failures';
import type { ParsedSpec } from '../compute-spec/parse';
import { loadConfig } from '../compute-config/source';
import type { ComputeSettings } from './settings';

export interface RefreshedConfig {
  /** null: the control plane says the compute is no longer attached (`empty`). */
  spec: ParsedSpec | null;
}

export function refreshActivities(s: ComputeSettings, metrics?: { controlPlaneRequests?: Counter<'rpc' | 'http_status'> }) {
  return {
    async fetchConfig(): Promise<RefreshedConfig> {
      let config;
      try {
        config = await loadConfig(s.configSource, s.computeId, metrics?.controlPlaneRequests);
      } catch (err) {
        throw ComputeFailure.permanent(FAILURE.configFetchFailed, (err as Error).message);
      }
      if (!config) throw ComputeFailure.permanent(FAILURE.configFetchFailed, 'cannot refresh the configuration: the worker was started without --config or --control-plane-uri');
      return { spec: config.spec };
    },
  };
}
