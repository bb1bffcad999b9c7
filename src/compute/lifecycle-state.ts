// What the lifecycle workflow knows of a compute, and the /status view of it: plain data, shared
// by the workflow (its state and memo) and the client (the memo a new workflow starts with).
import type { ParsedSpec } from '../compute-spec/parse';
import { emptyMetrics, type ComputeStatus, type LeaseState, type StartupMetrics, type StatusView } from './status';

/** Everything the workflow knows; plain data so it can be carried through continue-as-new. */
export interface LifecycleState {
  computeId: string;
  status: ComputeStatus;
  spec: ParsedSpec | null;
  /** When the process started, or (after waiting in `empty`) when the spec arrived (§4.1 step 5). */
  startTime: string;
  lastActive: string | null;
  error: string | null;
  terminateLsn: string | null;
  metrics: StartupMetrics;
  startAttempts: number;
  reconfigureAttempts: number;
  /** Absent in states carried from before /promote existed. */
  promoteAttempts?: number;
  /** Postgres was started successfully and has not been stopped since. */
  postgresRunning: boolean;
  pendingRestart: string[];
  lease: LeaseState | null;
  /** The lsnLease child workflow was started (Static computes on Neon storage). */
  leaseStarted: boolean;
}

/** A compute that has just been created. */
export function newLifecycleState(computeId: string, startTime: string): LifecycleState {
  return {
    computeId,
    status: 'empty',
    spec: null,
    startTime,
    lastActive: null,
    error: null,
    terminateLsn: null,
    metrics: emptyMetrics(),
    startAttempts: 0,
    reconfigureAttempts: 0,
    postgresRunning: false,
    pendingRestart: [],
    lease: null,
    leaseStarted: false,
  };
}

/** The /status body of a state (no secrets: the spec is not in it). */
export function statusView(state: LifecycleState): StatusView {
  return {
    start_time: state.startTime,
    tenant: state.spec?.tenantId ?? null,
    timeline: state.spec?.timelineId ?? null,
    status: state.status,
    last_active: state.lastActive,
    error: state.error,
    compute_id: state.computeId,
    mode: state.spec?.mode.type ?? null,
    startup_metrics: state.metrics,
    terminate_lsn: state.terminateLsn,
    pending_restart: state.pendingRestart,
    lsn_lease: state.lease,
  };
}
