// What the lifecycle workflow knows of a compute, the /status view of it, and the report of that
// view the pod keeps: plain data, shared by the workflow (its state and memo), the client (the memo
// a new workflow starts with) and the pod (which answers /status from the last report).
import type { ParsedSpec } from '../compute-spec/parse';
import { emptyMetrics, newLfcStates, type LeaseState, type LfcStates, type PostmasterExit, type StartupMetrics, type StatusView, type TerminateMode } from './views';
import { type ComputeStatus } from './status';

/** Everything the workflow knows; plain data so it can be carried through continue-as-new. */
export interface LifecycleState {
  computeId: string;
  /**
   * Names this lifecycle across its runs (continue-as-new keeps it; a new lifecycle of the same
   * compute has another): with `version`, it orders the reports the pod receives.
   */
  lifecycleId: string;
  /** Counts the status views published; the pod keeps the newest report it has seen. */
  version: number;
  status: ComputeStatus;
  spec: ParsedSpec | null;
  /** When the process started, or (after waiting in `empty`) when the spec arrived (§4.1 step 5). */
  startTime: string;
  lastActive: string | null;
  error: string | null;
  /** How the compute is being (or was) terminated; null until asked. */
  terminateMode: TerminateMode | null;
  terminateLsn: string | null;
  metrics: StartupMetrics;
  startAttempts: number;
  reconfigureAttempts: number;
  promoteAttempts: number;
  /** Postgres was started successfully and has not been stopped since. */
  postgresRunning: boolean;
  /** The postmaster the last start left running: its exit, reported by the pod, fails the compute. */
  postmasterPid: number | null;
  pendingRestart: string[];
  lease: LeaseState | null;
  /** The lsnLease child workflow was started (Static computes on Neon storage). */
  leaseStarted: boolean;
  /** LFC prewarm and offload (§6.3) of the running Postgres; a new start begins them anew. */
  lfc: LfcStates;
}

/** A compute that has just been created. */
export function newLifecycleState(computeId: string, startTime: string, lifecycleId = ''): LifecycleState {
  return {
    computeId,
    lifecycleId,
    version: 0,
    status: 'empty',
    spec: null,
    startTime,
    lastActive: null,
    error: null,
    terminateMode: null,
    terminateLsn: null,
    metrics: emptyMetrics(),
    startAttempts: 0,
    reconfigureAttempts: 0,
    promoteAttempts: 0,
    postgresRunning: false,
    postmasterPid: null,
    pendingRestart: [],
    lease: null,
    leaseStarted: false,
    lfc: newLfcStates(),
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

/**
 * A status view as the lifecycle sent it to the pod (in an activity, an update's result, the
 * podReport query or the memo): the pod keeps the newest of a lifecycle and moves to a new
 * lifecycle's, never back.
 */
export interface PodReport {
  /** Empty in a pod's view of a compute whose lifecycle it has not heard of yet. */
  lifecycle: string;
  version: number;
  view: StatusView;
  /** Once a termination was asked: how (the pod keeps serving 30 s after a fast one, 300 ms after an immediate one). */
  terminateMode?: TerminateMode | null;
  /** GET /lfc/prewarm and /lfc/offload (absent in reports of lifecycles that predate them). */
  lfc?: LfcStates;
}

export function podReport(state: LifecycleState): PodReport {
  return { lifecycle: state.lifecycleId, version: state.version, view: statusView(state), terminateMode: state.terminateMode, lfc: state.lfc };
}

/** The pod's event when the postmaster it watched exited: the lifecycle fails the compute if it was the one it started. */
export interface PostmasterExitReport {
  pid: number;
  exit: PostmasterExit;
}

/** What an update answers the pod: its result, and the status view it left the compute in. */
export interface Reported<T> {
  result: T;
  report: PodReport;
}
