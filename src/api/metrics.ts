// Prometheus metrics (reference §7.1). compute_ctl_up has exactly one sample, 1, for the current
// status, read from the lifecycle workflow at scrape time.
import { Gauge, Registry } from 'prom-client';
import { displayStatus, type ComputeStatus } from '../workflows/status';

export function createMetrics(buildTag: string, readStatus: () => Promise<ComputeStatus | null>): Registry {
  const registry = new Registry();
  let last: ComputeStatus | null = null;
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
  return registry;
}
