// Prometheus metrics of the in-pod process (reference §7.1).
import { Counter, Gauge, Registry } from 'prom-client';
import { displayStatus, type ComputeStatus } from './workflows/status';

export interface ComputeMetrics {
  registry: Registry;
  migrationFailures: Counter<'migration_id'>;
}

export function createMetrics(buildTag: string, readStatus: () => Promise<ComputeStatus | null>): ComputeMetrics {
  const registry = new Registry();
  let last: ComputeStatus | null = null;
  // Exactly one sample, 1, for the current status, read from the lifecycle workflow at scrape time.
  new Gauge({
    name: 'compute_ctl_up',
    help: 'Compute is up; the status label holds its current status',
    labelNames: ['build_tag', 'status'] as const,
    registers: [registry],
    async collect() {
      // On a failed read the last known status stays, so the metric never goes blank.
      last = (await readStatus().catch(() => null)) ?? last;
      this.reset();
      if (last) this.set({ build_tag: buildTag, status: displayStatus(last) }, 1);
    },
  });
  const migrationFailures = new Counter({
    name: 'compute_ctl_db_migration_failed_total',
    help: 'Failed privileged-role migrations',
    labelNames: ['migration_id'] as const,
    registers: [registry],
  });
  return { registry, migrationFailures };
}
