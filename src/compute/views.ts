// What is said of a compute across the layers: the /status body and its parts, the answers of
// /terminate and /promote, how the postmaster ended. Plain data: it travels through Temporal
// payloads and HTTP bodies unchanged.
import type { ComputeStatus } from './status';

export const TERMINATE_MODES = ['fast', 'immediate'] as const;

export type TerminateMode = (typeof TERMINATE_MODES)[number];

/** How the postmaster ended: its exit code or the signal that killed it (both null if unknown). */
export interface PostmasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The /promote answer (Neon's PromoteState). */
export type PromoteState = { status: 'completed' } | { status: 'failed'; error: string };

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

/** /lfc/prewarm's state (§6.3, Neon's LfcPrewarmState): tagged by `status`. */
export type LfcPrewarmState =
  | { status: 'not_prewarmed' }
  | { status: 'prewarming' }
  | {
      status: 'completed';
      total: number;
      prewarmed: number;
      skipped: number;
      state_download_time_ms: number;
      uncompress_time_ms: number;
      prewarm_time_ms: number;
    }
  | { status: 'failed'; error: string }
  /** The endpoint storage has no state for the endpoint (404). */
  | { status: 'skipped' }
  | { status: 'cancelled' };

/** /lfc/offload's state (§6.3, Neon's LfcOffloadState). */
export type LfcOffloadState =
  | { status: 'not_offloaded' }
  | { status: 'offloading' }
  | { status: 'completed'; state_query_time_ms: number; compress_time_ms: number; state_upload_time_ms: number }
  | { status: 'failed'; error: string }
  /** Nothing was cached: nothing uploaded. */
  | { status: 'skipped' };

export interface LfcStates {
  prewarm: LfcPrewarmState;
  offload: LfcOffloadState;
}

export function newLfcStates(): LfcStates {
  return { prewarm: { status: 'not_prewarmed' }, offload: { status: 'not_offloaded' } };
}
