// The compute state machine of reference §3. Pure data and functions: imported by workflow code
// (deterministic sandbox) and by the HTTP layer alike.

export const COMPUTE_STATUSES = [
  'empty',
  'configuration_pending',
  'init',
  'running',
  'configuration',
  'failed',
  'termination_pending_fast',
  'termination_pending_immediate',
  'terminated',
  'refresh_configuration_pending',
  'refresh_configuration',
] as const;

export type ComputeStatus = (typeof COMPUTE_STATUSES)[number];

/** Display form used in error texts and the `compute_ctl_up` metric label. */
export function displayStatus(status: ComputeStatus): string {
  return status.replace(/_/g, '-');
}

const TRANSITIONS: Record<ComputeStatus, readonly ComputeStatus[]> = {
  empty: ['configuration_pending', 'init', 'termination_pending_fast', 'termination_pending_immediate'],
  // → failed: Postgres exited before the pending reconfiguration began (the request answers with it).
  configuration_pending: ['init', 'configuration', 'failed'],
  init: ['running', 'failed'],
  running: [
    'configuration_pending',
    'refresh_configuration_pending',
    'termination_pending_fast',
    'termination_pending_immediate',
    'failed', // Postgres exited on its own (see lifecycle workflow)
  ],
  configuration: ['running', 'failed'],
  // Deliberate fix over upstream (§13): a failed compute can still be terminated.
  failed: ['refresh_configuration_pending', 'termination_pending_fast', 'termination_pending_immediate'],
  termination_pending_fast: ['terminated'],
  termination_pending_immediate: ['terminated'],
  terminated: [],
  // → failed: Postgres exited meanwhile.
  refresh_configuration_pending: ['refresh_configuration', 'refresh_configuration_pending', 'failed'],
  // → termination_pending_immediate: the control plane answered that the compute is no longer
  // attached (§10: compute_ctl exits; here the lifecycle ends, and the process with it).
  // → failed: Postgres exited meanwhile, or is not running (a refresh of a compute whose start failed).
  refresh_configuration: ['running', 'refresh_configuration_pending', 'termination_pending_immediate', 'failed'],
};

export function canTransition(from: ComputeStatus, to: ComputeStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export const TERMINATE_MODES = ['fast', 'immediate'] as const;
export type TerminateMode = (typeof TERMINATE_MODES)[number];

/** How the postmaster ended: its exit code or the signal that killed it (both null if unknown). */
export interface PostmasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function terminationPending(mode: TerminateMode): ComputeStatus {
  return mode === 'fast' ? 'termination_pending_fast' : 'termination_pending_immediate';
}

export function isTerminationPending(status: ComputeStatus): boolean {
  return status === 'termination_pending_fast' || status === 'termination_pending_immediate';
}

/** States in which `/configure` is accepted (§6.3). */
export const CONFIGURE_ALLOWED: readonly ComputeStatus[] = ['empty', 'running'];
/** States in which `/terminate` starts a termination (§6.3, plus `failed`: see TRANSITIONS). */
export const TERMINATE_ALLOWED: readonly ComputeStatus[] = ['empty', 'running', 'failed'];

/** The /promote answer (Neon's PromoteState). */
export type PromoteState = { status: 'completed' } | { status: 'failed'; error: string };

/** States in which `/refresh_configuration` is accepted (§10); in `init` it is a no-op. */
export const REFRESH_ALLOWED: readonly ComputeStatus[] = ['running', 'failed', 'refresh_configuration_pending', 'init'];

/** Rust's Debug name of a status (`RefreshConfigurationPending`), as Neon's texts print it. */
export function debugName(status: ComputeStatus): string {
  return status.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
}

export function refreshRefusedMessage(status: ComputeStatus): string {
  return `Cannot refresh compute configuration in state ${debugName(status)}`;
}

export function invalidStatusMessage(status: ComputeStatus): string {
  return `invalid compute status: ${displayStatus(status)}`;
}

/** Startup metrics (§7.2), all integers, 0 until set. */
export interface StartupMetrics {
  wait_for_spec_ms: number;
  sync_sk_check_ms: number;
  sync_safekeepers_ms: number;
  pageserver_connect_micros: number;
  basebackup_ms: number;
  basebackup_bytes: number;
  start_postgres_ms: number;
  config_ms: number;
  total_startup_ms: number;
  load_ext_ms: number;
  num_ext_downloaded: number;
  largest_ext_size: number;
  total_ext_download_size: number;
}

export function emptyMetrics(): StartupMetrics {
  return {
    wait_for_spec_ms: 0,
    sync_sk_check_ms: 0,
    sync_safekeepers_ms: 0,
    pageserver_connect_micros: 0,
    basebackup_ms: 0,
    basebackup_bytes: 0,
    start_postgres_ms: 0,
    config_ms: 0,
    total_startup_ms: 0,
    load_ext_ms: 0,
    num_ext_downloaded: 0,
    largest_ext_size: 0,
    total_ext_download_size: 0,
  };
}

/** State of a Static compute's LSN lease (§8.2). */
export interface LeaseState {
  status: 'acquiring' | 'held' | 'retrying' | 'refused';
  lsn: string;
  /** Earliest expiry over all pageservers (RFC 3339). */
  valid_until: string | null;
  renewals: number;
  error: string | null;
}

/** The `/status` body (§6.3) plus our extensions. Contains no secrets. */
export interface StatusView {
  start_time: string;
  tenant: string | null;
  timeline: string | null;
  status: ComputeStatus;
  last_active: string | null;
  error: string | null;
  /** Extensions (ignored by Neon's control plane): */
  compute_id: string;
  mode: 'primary' | 'static' | 'replica' | null;
  startup_metrics: StartupMetrics;
  terminate_lsn: string | null;
  /** Settings changed by the last (re)configuration that take effect only after a restart. */
  pending_restart: string[];
  /** Static computes: the LSN lease. */
  lsn_lease: LeaseState | null;
  /**
   * Present only while the in-pod process cannot reach Temporal: this view is the last one it
   * learned and may be behind (the workflow never sets it).
   */
  stale?: StaleMark;
  /** Replica computes: the WAL stream from the upstream, as the compute monitor last saw it. */
  replication?: ReplicationView;
  /** The PostgreSQL major version this process runs (`v14`..`v17`, §1), from its binary. */
  pg_version?: string;
}

export interface ReplicationView {
  /** pg_stat_wal_receiver.status (`streaming`, `waiting`, …), or null when no receiver runs. */
  wal_receiver: string | null;
  /** Since when the replica has not been streaming (RFC 3339), or null while it streams. */
  not_streaming_since: string | null;
}

export interface StaleMark {
  /** Since when Temporal has not answered (RFC 3339). */
  since: string;
  reason: string;
}

export interface TerminateResult {
  lsn: string | null;
  /** true when the compute was already terminated (HTTP 201). */
  already_terminated: boolean;
}
