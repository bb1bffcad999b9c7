// The in-pod steps of a compute, as Temporal activities bound to this worker's compute, one module
// per concern. Every activity is idempotent: a retry after a crash leaves the same result.
import type { Counter } from 'prom-client';
import { catalogActivities } from './catalog';
import { configActivities } from './config';
import { instrumented } from './instrument';
import { pgdataActivities } from './pgdata';
import { postgresActivities } from './postgres';
import { promoteActivities } from './promote';
import { refreshActivities } from './refresh';
import type { ComputeSettings } from './settings';
import { storageActivities } from './storage';

export type { ComputeSettings } from './settings';
export type { CatalogResult } from './catalog';

export function createActivities(
  s: ComputeSettings,
  metrics?: { migrationFailures: Counter<'migration_id'>; controlPlaneRequests?: Counter<'rpc' | 'http_status'> },
) {
  return instrumented({
    ...pgdataActivities(s),
    ...storageActivities(s),
    ...postgresActivities(s),
    ...catalogActivities(s, metrics),
    ...configActivities(s),
    ...refreshActivities(s, metrics),
    ...promoteActivities(s),
  });
}

export type ComputeActivities = ReturnType<typeof createActivities>;
