// Prometheus metrics of the in-pod process (reference §7.1).
import { Counter, Gauge, Registry } from 'prom-client';
import { displayStatus } from '../compute/texts';
import { type StatusView } from '../compute/views';
import type { InstalledExtension } from '../postgres/installed-extensions';
import type { Exposition } from '../api/server';
import type { LfcCounters } from '../activities/lfc';
import { omitEmptyFamilies } from '../compute/exposition';

/** What the process observes itself, beside the workflow's status. */
export interface MetricSources {
  downtime(): { currentMs: number; totalMs: number };
  installedExtensions(): InstalledExtension[];
  /** false while the process cannot reach Temporal (the status it reports may be behind). */
  temporalUp(): boolean;
  /** Bytes of the audit log files in <pgdata>/log (0 without any). */
  auditLogBytes?(): Promise<number>;
}


export interface ComputeMetrics {
  /** The /metrics text: the lease gauges only when the compute holds a lease, no empty family. */
  exposition: Exposition;
  migrationFailures: Counter<'migration_id'>;
  controlPlaneRequests: Counter<'rpc' | 'http_status'>;
  refreshRequests: Counter;
  remoteExtRequests: Counter<'http_status' | 'filename'>;
  lfc: LfcCounters;
}

export function createMetrics(buildTag: string, readStatus: () => Promise<StatusView>, sources: MetricSources): ComputeMetrics {
  const registry = new Registry();
  // One read per scrape, shared by the gauges below; on a failed read the last known one stays.
  let last: StatusView | null = null;
  let pending: Promise<void> | null = null;
  const refresh = () =>
    (pending ??= readStatus()
      .then((s) => void (last = s))
      .catch(() => undefined)
      .finally(() => setImmediate(() => (pending = null))));
  // Exactly one sample, 1, for the current status: the pod's view of its compute at scrape time.
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
  const leaseRegistry = new Registry();
  new Gauge({
    name: 'compute_ctl_lsn_lease_state',
    help: "Static computes: 1 for the LSN lease's current state (acquiring, held, retrying, refused)",
    labelNames: ['state'] as const,
    registers: [leaseRegistry],
    async collect() {
      await refresh();
      this.reset();
      if (last?.lsn_lease) this.set({ state: last.lsn_lease.status }, 1);
    },
  });
  new Gauge({
    name: 'compute_ctl_lsn_lease_valid_until_seconds',
    help: 'Static computes: when the LSN lease expires (Unix time)',
    registers: [leaseRegistry],
    async collect() {
      await refresh();
      this.reset();
      const until = last?.lsn_lease?.valid_until;
      if (until) this.set(Date.parse(until) / 1000);
    },
  });
  new Gauge({
    name: 'compute_ctl_temporal_up',
    help: 'Whether the in-pod process reaches Temporal (0: the status it reports may be behind)',
    registers: [registry],
    collect() {
      this.set(sources.temporalUp() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'compute_pg_current_downtime_ms',
    help: "Time since the compute monitor's last successful check of Postgres; 0 when up",
    registers: [registry],
    collect() {
      this.set(sources.downtime().currentMs);
    },
  });
  new Counter({
    name: 'compute_pg_downtime_ms_total',
    help: 'Downtime of Postgres observed by the compute monitor',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.downtime().totalMs);
    },
  });
  new Gauge({
    name: 'compute_installed_extensions',
    help: 'Number of databases where the extension is installed at that version',
    labelNames: ['extension_name', 'version', 'owned_by_superuser'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const e of sources.installedExtensions()) {
        this.set({ extension_name: e.extension_name, version: e.version, owned_by_superuser: e.owned_by_superuser }, e.databases);
      }
    },
  });
  new Gauge({
    name: 'compute_audit_log_dir_size',
    help: 'Bytes of the pgaudit log files in the audit log directory',
    registers: [registry],
    async collect() {
      this.set((await sources.auditLogBytes?.().catch(() => 0)) ?? 0);
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
  const refreshRequests = new Counter({
    name: 'pg_cctl_pagestream_request_errors_total',
    help: 'Requests of Postgres to refresh its configuration (POST /refresh_configuration)',
    registers: [registry],
  });
  const remoteExtRequests = new Counter({
    name: 'compute_ctl_remote_ext_requests_total',
    help: 'Remote extension downloads (POST /extension_server)',
    labelNames: ['http_status', 'filename'] as const,
    registers: [registry],
  });
  const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
  const lfc: LfcCounters = {
    prewarms: counter('compute_ctl_lfc_prewarms_total', 'LFC prewarms (POST /lfc/prewarm and autoprewarm)'),
    prewarmErrors: counter('compute_ctl_lfc_prewarm_errors_total', 'LFC prewarms that failed'),
    offloads: counter('compute_ctl_lfc_offloads_total', 'LFC offloads (POST /lfc/offload and periodic)'),
    offloadErrors: counter('compute_ctl_lfc_offload_errors_total', 'LFC offloads that failed'),
  };
  const exposition: Exposition = {
    contentType: registry.contentType,
    async metrics() {
      await refresh();
      const text = last?.lsn_lease ? await Registry.merge([registry, leaseRegistry]).metrics() : await registry.metrics();
      return omitEmptyFamilies(text);
    },
  };
  return { exposition, migrationFailures, controlPlaneRequests, refreshRequests, remoteExtRequests, lfc };
}
