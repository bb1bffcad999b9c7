// Every way a compute operation fails, in one place (like Neon's single JsonResponse). The model:
// - in the pod's steps, storage and Postgres code throw a ComputeFailure (its type, whether retrying
//   can help); the activity wrapper turns it into a Temporal failure of that type, what the Temporal
//   UI shows (FAILURE, below);
// - to an API caller, four errors become `{"error": …}` answers in one place, the HTTP error handler
//   (src/api/common.ts): a ComputeError of the client (its kind says the status: HTTP_STATUS), a
//   SpecError of the spec's parser (422 for a body of the wrong shape, 400 for a rule), a
//   RequestError of a route itself (its status: authentication, a bad header), Fastify's own.

/** `type` of the ApplicationFailures raised by the workflows and activities. */
export const FAILURE = {
  /** An update validator refused: the compute's status does not allow the request (HTTP 412). */
  invalidStatus: 'InvalidComputeStatus',
  /** The configure update: the start or reconfiguration failed (HTTP 500). */
  configurationFailed: 'ConfigurationFailed',
  /** computeStartup, prepare_pgdata: the data directory could not be made ready (disk, permissions). */
  pgdataPrepareFailed: 'PgdataPrepareFailed',
  /** computeStartup on the postgres backend: the upstream's current LSN could not be read (§4.4). */
  startLsnFailed: 'StartLsnFailed',
  /** computeStartup on the neon backend: sync-safekeepers did not agree on a start LSN (§4.4). */
  syncSafekeepersFailed: 'SyncSafekeepersFailed',
  /** computeStartup, finalize_pgdata: postgresql.conf and the other files could not be written (§4.6). */
  configWriteFailed: 'ConfigWriteFailed',
  /** computeReconfigure: reloading or applying the spec failed. */
  reconfigureFailed: 'ReconfigureFailed',
  /** Postgres exited or timed out while starting (not retried: the same PGDATA would fail again). */
  postgresStartFailed: 'PostgresStartFailed',
  /** Postgres answered a catalog statement with an error (not retried). */
  catalogFailed: 'CatalogFailed',
  /** The upstream refused us (authentication, unknown role or database): not retried. */
  upstreamUnusable: 'UpstreamUnusable',
  /** The upstream could not be reached: retried. */
  upstreamUnreachable: 'UpstreamUnreachable',
  /** pg_basebackup or the pageserver failed; retried unless the cause is permanent. */
  basebackupFailed: 'BasebackupFailed',
  /** An LSN lease was asked for a compute that is not Static. */
  notStatic: 'NotStatic',
  /** §10: the config could not be fetched again (file or control plane); the refresh waits for the next request. */
  configFetchFailed: 'ConfigFetchFailed',
  /** /promote: the replica did not catch up, or Postgres refused the promotion. */
  promotionFailed: 'PromotionFailed',
  /** audit_log_level Hipaa, Extended or Full without AUDIT_LOGGING_ENDPOINT / AUDIT_LOGGING_TLS_ENDPOINT (§2): not started. */
  auditLoggingNotConfigured: 'AuditLoggingNotConfigured',
  /** audit_log_level needs pgaudit (and pgauditlogtofile) and the server has none: not started. */
  auditLibraryMissing: 'AuditLibraryMissing',
  /** computeStartup, resize_swap: the --resize-swap-on-bind helper is missing or failed. */
  swapResizeFailed: 'SwapResizeFailed',
  /** computeStartup, disk_quota: the --set-disk-quota-for-fs helper is missing or failed. */
  diskQuotaFailed: 'DiskQuotaFailed',
  /** computeStartup, remote_extensions: the control files could not be written (downloads are not fatal). */
  remoteExtensionsFailed: 'RemoteExtensionsFailed',
  /** computeStartup, local_proxy: its config could not be written or local_proxy signalled. */
  localProxyConfigFailed: 'LocalProxyConfigFailed',
  /** pgbouncer_settings could not be applied (logged, never fails the compute). */
  pgbouncerConfigFailed: 'PgbouncerConfigFailed',
  /** §6.3: an LFC prewarm failed (the endpoint storage, the state, Postgres): the `failed` prewarm state. */
  lfcPrewarmFailed: 'LfcPrewarmFailed',
  /** §6.3: an LFC offload failed: the `failed` offload state. */
  lfcOffloadFailed: 'LfcOffloadFailed',
  /** An update validator refused: a request of that kind is running (LFC prewarm, offload: HTTP 429). */
  requestInProgress: 'RequestInProgress',
  /** A restarted worker ended the attempt its dead predecessor had left running (retried). */
  workerLost: 'WorkerLost',
} as const;

export type FailureType = (typeof FAILURE)[keyof typeof FAILURE];

/** The failure type of each startup step but sync_safekeepers, whose type depends on the backend. */
const STEP_FAILURES: Record<string, FailureType> = {
  prepare_pgdata: FAILURE.pgdataPrepareFailed,
  resize_swap: FAILURE.swapResizeFailed,
  disk_quota: FAILURE.diskQuotaFailed,
  remote_extensions: FAILURE.remoteExtensionsFailed,
  basebackup: FAILURE.basebackupFailed,
  finalize_pgdata: FAILURE.configWriteFailed,
  start_postgres: FAILURE.postgresStartFailed,
  apply_config: FAILURE.catalogFailed,
  local_proxy: FAILURE.localProxyConfigFailed,
};

/**
 * The type of a failed computeStartup, by its step (startup-steps.ts) and the storage backend: what
 * an operator filters on in the Temporal UI. Each step's own activity failures keep their types in
 * the cause.
 */
export function startupFailureType(step: string, backend: 'neon' | 'postgres'): FailureType {
  if (step === 'sync_safekeepers') return backend === 'neon' ? FAILURE.syncSafekeepersFailed : FAILURE.startLsnFailed;
  if (!Object.hasOwn(STEP_FAILURES, step)) throw new Error(`no failure type for the startup step ${step}`);
  return STEP_FAILURES[step];
}

/**
 * A failure of storage or Postgres code that knows whether trying again can help. The activity
 * wrapper turns it into a retryable or non-retryable Temporal failure of the same type; any other
 * error is retried by the activity's policy.
 */
export class ComputeFailure extends Error {
  constructor(
    readonly type: FailureType,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'ComputeFailure';
  }

  /** Retrying cannot help. */
  static permanent(type: FailureType, message: string): ComputeFailure {
    return new ComputeFailure(type, message, false);
  }

  /** May heal: retried by the activity's policy. */
  static transient(type: FailureType, message: string): ComputeFailure {
    return new ComputeFailure(type, message, true);
  }
}

/** What the client reports to its callers; the HTTP API answers each kind with one status. */
export type ComputeErrorKind = 'invalid_status' | 'in_progress' | 'configuration_failed' | 'not_found' | 'timeout' | 'unavailable';

export class ComputeError extends Error {
  constructor(
    readonly kind: ComputeErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ComputeError';
  }
}
