// Timeouts and retry policies of every activity, in one place.
import { ActivityCancellationType } from '@temporalio/common';
import type { ActivityOptions } from '@temporalio/workflow';

const once = { maximumAttempts: 1 };
// Long steps heartbeat each second (activities/instrument.ts): a pod that died is noticed within
// this and the step is retried on its successor (a restarted pod also ends its predecessor's
// attempts itself, at once: pod/takeover.ts). All steps are idempotent.
const DEAD_POD = '10 seconds';

export const POLICIES = {
  preparePgdata: { startToCloseTimeout: '2 minutes', heartbeatTimeout: DEAD_POD, retry: { maximumAttempts: 3 } },
  // §4.4: up to 5 retries, backoff min(1.1^n, 3) s
  determineStartLsn: {
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: DEAD_POD,
    retry: { maximumAttempts: 6, initialInterval: '1 second', backoffCoefficient: 1.1, maximumInterval: '3 seconds' },
  },
  // §4.5: up to 10 retries, 500 ms then ×1.5
  fetchBasebackup: {
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: DEAD_POD,
    retry: { maximumAttempts: 11, initialInterval: '500 milliseconds', backoffCoefficient: 1.5 },
  },
  finalizePgdata: { startToCloseTimeout: '1 minute', heartbeatTimeout: DEAD_POD, retry: { maximumAttempts: 3 } },
  // 60 s readiness timeout (§4.7) plus slack. Failures of Postgres itself are non-retryable; a
  // retry after a dead pod adopts the postmaster it had started.
  startPostgres: { startToCloseTimeout: '90 seconds', heartbeatTimeout: DEAD_POD, retry: { maximumAttempts: 3 } },
  // SQL errors are non-retryable (postgres/catalog/apply.ts); the plan is made from the catalog, so a
  // retry after a dead pod does only what is left.
  applyCatalog: { startToCloseTimeout: '30 minutes', heartbeatTimeout: DEAD_POD, retry: { maximumAttempts: 3 } },
  reloadConfig: { startToCloseTimeout: '1 minute', heartbeatTimeout: DEAD_POD, retry: { maximumAttempts: 3 } },
  // Up to 20 s waiting for the replay to catch up, then pg_promote() (which waits up to 60 s).
  promoteReplica: { startToCloseTimeout: '3 minutes', heartbeatTimeout: DEAD_POD, retry: once },
  // §11's retries happen inside; a failed fetch waits for the next refresh request (§10).
  fetchConfig: { startToCloseTimeout: '2 minutes', heartbeatTimeout: DEAD_POD, retry: once },
  // Control files and preloaded libraries' archives (§4.2); a failed download is reported, not thrown.
  prepareRemoteExtensions: { startToCloseTimeout: '10 minutes', heartbeatTimeout: DEAD_POD, retry: { maximumAttempts: 3 } },
  // Helpers of the VM (§2): a missing or failing helper fails the start, as it does Neon's.
  resizeSwap: { startToCloseTimeout: '5 minutes', retry: once },
  setDiskQuota: { startToCloseTimeout: '5 minutes', retry: once },
  // Fatal at a first start (§5.1 step 3), in the background on a reconfiguration.
  configureLocalProxy: { startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3 } },
  // §9: signals only; a failure does not hold the termination up.
  stopNeighbours: { startToCloseTimeout: '30 seconds', retry: once },
  // In the background: 3 attempts 1 s apart (§4.2 step 3), then logged.
  tunePgbouncer: { startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 1 } },
  // Background, best effort: a failure is counted in compute_ctl_db_migration_failed_total.
  runMigrations: { startToCloseTimeout: '10 minutes', retry: once },
  stopPostgres: { startToCloseTimeout: '3 minutes', heartbeatTimeout: DEAD_POD, retry: { maximumAttempts: 3 } },
  // A Neon Primary's final sync-safekeepers: once, no retries (§9).
  finalLsn: { startToCloseTimeout: '2 minutes', heartbeatTimeout: DEAD_POD, retry: once },
  // One round; the lease workflow does its own backoff (§8.2), visible in its history.
  acquireLeases: { startToCloseTimeout: '30 seconds', retry: once },
  // §6.3, in the background: once (a failure is the `failed` state; the next request tries again).
  // DELETE /lfc/prewarm reaches the activity with a heartbeat's answer, and the prewarm state says
  // `cancelled` only once it has stopped: a short heartbeat timeout keeps that prompt.
  prewarmLfc: {
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '5 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: once,
  },
  offloadLfc: { startToCloseTimeout: '10 minutes', heartbeatTimeout: DEAD_POD, retry: once },
  // The pod's copy of the status view. Not awaited by the lifecycle; a pod that is gone for a
  // minute reads the view again when it boots (the podReport query), so the report may lapse.
  reportStatus: {
    scheduleToCloseTimeout: '1 minute',
    startToCloseTimeout: '5 seconds',
    retry: { initialInterval: '200 milliseconds', maximumInterval: '2 seconds' },
  },
} satisfies Record<string, ActivityOptions>;
