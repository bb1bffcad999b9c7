// The in-pod steps of a compute, as Temporal activities bound to this pod's compute, one module
// per concern. Every activity is idempotent: a retry after a crash leaves the same result.
import type { Counter } from 'prom-client';
import type { PodReport } from '../compute/lifecycle-state';
import { catalogActivities } from './catalog';
import { configActivities } from './config';
import { extensionActivities } from './extensions';
import type { RemoteExtensions } from '../postgres/remote-extensions';
import { instrumented } from './instrument';
import { lfcActivities, type LfcCounters } from './lfc';
import { neighbourActivities } from './neighbours';
import { serializedOnPgdata } from './pgdata-lock';
import { pgdataActivities } from './pgdata';
import { postgresActivities } from './postmaster';
import { promoteActivities } from './replica-promotion';
import { refreshActivities } from './refresh';
import { reportActivities } from './report';
import type { ComputeSettings } from './settings';
import { storageActivities } from './storage';

export type { ComputeSettings } from './settings';
export type { CatalogResult } from './catalog';

/** What the activities report to the pod beside their results. */
export interface ActivityHooks {
  migrationFailures?: Counter<'migration_id'>;
  controlPlaneRequests?: Counter<'rpc' | 'http_status'>;
  /** A status view the lifecycle sent (reportStatus). */
  onReport?: (report: PodReport) => void;
  /** The pod's remote extensions: a start's step and a reconfiguration give them the spec. */
  remoteExtensions?: RemoteExtensions;
  /** Prewarms and offloads of the LFC, and their errors. */
  lfc?: LfcCounters;
}

export function createActivities(s: ComputeSettings, hooks: ActivityHooks = {}) {
  return instrumented(serializedOnPgdata({
    ...pgdataActivities(s),
    ...storageActivities(s),
    ...postgresActivities(s),
    ...catalogActivities(s, hooks),
    ...configActivities(s, hooks.remoteExtensions),
    ...extensionActivities(hooks.remoteExtensions),
    ...neighbourActivities(s),
    ...refreshActivities(s, hooks),
    ...promoteActivities(s),
    ...lfcActivities(s, hooks.lfc),
    ...reportActivities(hooks.onReport ?? (() => undefined)),
  }));
}

export type ComputeActivities = ReturnType<typeof createActivities>;
