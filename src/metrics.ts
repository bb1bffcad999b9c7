// Prometheus metrics of the in-pod process (reference §7.1).
import { Counter, Gauge, Registry } from 'prom-client';
import { displayStatus, type StatusView } from './compute/status';

export interface ComputeMetrics {
  registry: Registry;
  migrationFailures: Counter<'migration_id'>;
  controlPlaneRequests: Counter<'rpc' | 'http_status'>;
}

export function createMetrics(buildTag: string, readStatus: () => Promise<StatusView>): ComputeMetrics {
  const registry = new Registry();
  // One read per scrape, shared by the gauges below; on a failed read the last known one stays.
  let last: StatusView | null = null;
  let pending: Promise<void> | null = null;
  const refresh = () =>
    (pending ??= readStatus()
      .then((s) => void (last = s))
      .catch(() => undefined)
      .finally(() => setImmediate(() => (pending = null))));
  // Exactly one sample, 1, for the current status, read from the lifecycle workflow at scrape time.
  new Gauge({
    name: 'compute_ctl_up',
    help: 'Compute is up; the status label holds its current status',
    labelNames: ['build_tag', 'status'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      this.reset();
      if (last) this.set({ build_tag: buildTag, status: displayStatus(last.status) }, 1);
    },
  });
  new Gauge({
    name: 'compute_ctl_lsn_lease_state',
    help: "Static computes: 1 for the LSN lease's current state (acquiring, held, retrying, refused)",
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      this.reset();
      if (last?.lsn_lease) this.set({ state: last.lsn_lease.status }, 1);
    },
  });
  new Gauge({
    name: 'compute_ctl_lsn_lease_valid_until_seconds',
    help: 'Static computes: when the LSN lease expires (Unix time)',
    registers: [registry],
    async collect() {
      await refresh();
      this.reset();
      const until = last?.lsn_lease?.valid_until;
      if (until) this.set(Date.parse(until) / 1000);
    },
  });
  const migrationFailures = new Counter({
    name: 'compute_ctl_db_migration_failed_total',
    help: 'Failed privileged-role migrations',
    labelNames: ['migration_id'] as const,
    registers: [registry],
  });
  const controlPlaneRequests = new Counter({
    name: 'compute_ctl_cplane_requests_total',
    help: 'Requests to the control plane',
    labelNames: ['rpc', 'http_status'] as const,
    registers: [registry],
  });
  return { registry, migrationFailures, controlPlaneRequests };
}
