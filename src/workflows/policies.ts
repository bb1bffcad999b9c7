// Timeouts and retry policies of every activity, in one place.
import type { ActivityOptions } from '@temporalio/workflow';

const once = { maximumAttempts: 1 };

export const POLICIES = {
  preparePgdata: { startToCloseTimeout: '2 minutes', heartbeatTimeout: '40 seconds', retry: { maximumAttempts: 3 } },
  // §4.4: up to 5 retries, backoff min(1.1^n, 3) s
  determineStartLsn: {
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 6, initialInterval: '1 second', backoffCoefficient: 1.1, maximumInterval: '3 seconds' },
  },
  // §4.5: up to 10 retries, 500 ms then ×1.5
  fetchBasebackup: {
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: '60 seconds',
    retry: { maximumAttempts: 11, initialInterval: '500 milliseconds', backoffCoefficient: 1.5 },
  },
  finalizePgdata: { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } },
  // 60 s readiness timeout (§4.7) plus slack
  startPostgres: { startToCloseTimeout: '90 seconds', heartbeatTimeout: '30 seconds', retry: once },
  applyCatalog: { startToCloseTimeout: '30 minutes', retry: once },
  reloadConfig: { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } },
  // Background, best effort: a failure is counted in compute_ctl_db_migration_failed_total.
  runMigrations: { startToCloseTimeout: '10 minutes', retry: once },
  stopPostgres: { startToCloseTimeout: '3 minutes', heartbeatTimeout: '30 seconds', retry: { maximumAttempts: 3 } },
  finalLsn: { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } },
  // One round; the lease workflow does its own backoff (§8.2), visible in its history.
  acquireLeases: { startToCloseTimeout: '30 seconds', retry: once },
  // Runs for the compute's lifetime; a lost worker is noticed by the heartbeat and the watch resumes
  // on the restarted worker.
  watchPostgres: {
    startToCloseTimeout: '3650 days',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  },
} satisfies Record<string, ActivityOptions>;
