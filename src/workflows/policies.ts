// Timeouts and retry policies of every activity, in one place.
import type { ActivityOptions } from '@temporalio/workflow';

const once = { maximumAttempts: 1 };
// Every activity heartbeats each second (activities/instrument.ts): a worker that died is noticed
// within this and the step is retried on the restarted worker. All steps are idempotent.
const DEAD_WORKER = '10 seconds';

export const POLICIES = {
  preparePgdata: { startToCloseTimeout: '2 minutes', heartbeatTimeout: DEAD_WORKER, retry: { maximumAttempts: 3 } },
  // §4.4: up to 5 retries, backoff min(1.1^n, 3) s
  determineStartLsn: {
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: DEAD_WORKER,
    retry: { maximumAttempts: 6, initialInterval: '1 second', backoffCoefficient: 1.1, maximumInterval: '3 seconds' },
  },
  // §4.5: up to 10 retries, 500 ms then ×1.5
  fetchBasebackup: {
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: DEAD_WORKER,
    retry: { maximumAttempts: 11, initialInterval: '500 milliseconds', backoffCoefficient: 1.5 },
  },
  finalizePgdata: { startToCloseTimeout: '1 minute', heartbeatTimeout: DEAD_WORKER, retry: { maximumAttempts: 3 } },
  // 60 s readiness timeout (§4.7) plus slack. Failures of Postgres itself are non-retryable; a
  // retry after a dead worker adopts the postmaster it had started.
  startPostgres: { startToCloseTimeout: '90 seconds', heartbeatTimeout: DEAD_WORKER, retry: { maximumAttempts: 3 } },
  // SQL errors are non-retryable (postgres/catalog/apply.ts); the plan is made from the catalog, so a
  // retry after a dead worker does only what is left.
  applyCatalog: { startToCloseTimeout: '30 minutes', heartbeatTimeout: DEAD_WORKER, retry: { maximumAttempts: 3 } },
  reloadConfig: { startToCloseTimeout: '1 minute', heartbeatTimeout: DEAD_WORKER, retry: { maximumAttempts: 3 } },
  // Background, best effort: a failure is counted in compute_ctl_db_migration_failed_total.
  // §11's retries happen inside; a failed fetch waits for the next refresh request (§10).
  // Up to 20 s waiting for the replay to catch up, then pg_promote() (which waits up to 60 s).
  promoteReplica: { startToCloseTimeout: '3 minutes', heartbeatTimeout: DEAD_WORKER, retry: once },
  fetchConfig: { startToCloseTimeout: '2 minutes', heartbeatTimeout: DEAD_WORKER, retry: once },
  runMigrations: { startToCloseTimeout: '10 minutes', retry: once },
  stopPostgres: { startToCloseTimeout: '3 minutes', heartbeatTimeout: DEAD_WORKER, retry: { maximumAttempts: 3 } },
  // A Neon Primary's final sync-safekeepers: once, no retries (§9).
  finalLsn: { startToCloseTimeout: '2 minutes', heartbeatTimeout: DEAD_WORKER, retry: once },
  // One round; the lease workflow does its own backoff (§8.2), visible in its history.
  acquireLeases: { startToCloseTimeout: '30 seconds', retry: once },
  // Runs for the compute's lifetime; a lost worker is noticed by the heartbeat and the watch resumes
  // on the restarted worker.
  watchPostgres: {
    startToCloseTimeout: '3650 days',
    heartbeatTimeout: DEAD_WORKER,
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  },
} satisfies Record<string, ActivityOptions>;
