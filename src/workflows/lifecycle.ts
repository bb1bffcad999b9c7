// The entity workflow of one compute (workflow ID compute-<id>). It owns the status (reference §3)
// and the current spec; starts, reconfigurations and terminations run as child workflows.
import * as wf from '@temporalio/workflow';
import type { ParsedSpec } from '../compute-spec/parse';
import type { PostmasterExit } from '../compute/status';
import { acts } from './activity-proxies';
import { FAILURE } from '../compute/failures';
import { postgresExitMessage } from '../compute/texts';
import { errorChain } from './errors';
import { configureUpdate, leaseUpdateSignal, pageserversChangedSignal, statusQuery, terminateUpdate } from './messages';
import { lsnLease } from './lease';
import { computeReconfigure } from './reconfigure';
import { computeStartup } from './startup';
import {
  canTransition,
  CONFIGURE_ALLOWED,
  emptyMetrics,
  invalidStatusMessage,
  isTerminationPending,
  TERMINATE_ALLOWED,
  terminationPending,
  type ComputeStatus,
  type LeaseState,
  type StartupMetrics,
  type StatusView,
  type TerminateMode,
} from '../compute/status';
import { computeTermination } from './termination';

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
  /** Postgres was started successfully and has not been stopped since. */
  postgresRunning: boolean;
  pendingRestart: string[];
  lease: LeaseState | null;
  /** The lsnLease child workflow was started (Static computes on Neon storage). */
  leaseStarted: boolean;
}

export interface LifecycleInput {
  computeId: string;
  /** A spec known at process start (--config file): the compute starts at once. */
  spec?: ParsedSpec | null;
  /** When the in-pod process started (ISO 8601). */
  processStartTime?: string;
  /** NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES: retries of the basebackup step (default 10, §4.5). */
  basebackupRetries?: number;
  /** Lease rounds per lease workflow run before continue-as-new (tests lower it). */
  leaseRoundsPerRun?: number;
  /** Continue-as-new once the history has this many events (tests lower it). */
  historyThreshold?: number;
  /** The state carried through continue-as-new. */
  state?: LifecycleState;
}

const HISTORY_THRESHOLD = 5_000;

export interface LifecycleResult {
  status: ComputeStatus;
  lsn: string | null;
  mode: TerminateMode | null;
}

function rejectUnless(allowed: readonly ComputeStatus[], status: ComputeStatus): void {
  if (!allowed.includes(status)) {
    throw wf.ApplicationFailure.create({ message: invalidStatusMessage(status), type: FAILURE.invalidStatus, nonRetryable: true });
  }
}

export async function computeLifecycle(input: LifecycleInput): Promise<LifecycleResult> {
  const { workflowId } = wf.workflowInfo();
  const continuesAsNew = wf.patched('continue-as-new');
  const state: LifecycleState = input.state ?? {
    computeId: input.computeId,
    status: 'empty',
    spec: null,
    startTime: input.processStartTime ?? new Date().toISOString(),
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
  const resumed = input.state !== undefined;

  let pendingSpec: ParsedSpec | null = resumed ? null : (input.spec ?? null);
  let configureRequests = 0;
  let configureHandled = 0;
  let terminateMode: TerminateMode | null = null;
  let postgresExit: PostmasterExit | null = null;
  let watchScope: wf.CancellationScope | null = null;

  const view = (): StatusView => ({
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
  });

  const setStatus = (to: ComputeStatus, error?: string): void => {
    if (!canTransition(state.status, to)) throw new Error(`illegal status transition ${state.status} -> ${to}`);
    state.status = to;
    if (error !== undefined) state.error = error;
    // The memo lets describe() answer /status when no worker is polling.
    wf.upsertMemo({ status: view() });
  };

  wf.setHandler(statusQuery, view);
  wf.setHandler(leaseUpdateSignal, (lease) => {
    state.lease = lease;
  });

  wf.setHandler(
    configureUpdate,
    async (spec) => {
      const request = ++configureRequests;
      pendingSpec = spec;
      setStatus('configuration_pending');
      await wf.condition(() => configureHandled >= request);
      if (state.status === 'failed') {
        throw wf.ApplicationFailure.create({
          message: `compute configuration failed: ${JSON.stringify(state.error)}`,
          type: FAILURE.configurationFailed,
          nonRetryable: true,
        });
      }
      return view();
    },
    { validator: (_spec: ParsedSpec) => rejectUnless(CONFIGURE_ALLOWED, state.status) },
  );

  wf.setHandler(
    terminateUpdate,
    async (mode) => {
      if (state.status === 'terminated') return { lsn: state.terminateLsn, already_terminated: true };
      terminateMode = mode;
      setStatus(terminationPending(mode));
      await wf.condition(() => state.status === 'terminated');
      return { lsn: state.terminateLsn, already_terminated: false };
    },
    {
      validator: (mode) => {
        if (mode !== 'fast' && mode !== 'immediate') {
          throw wf.ApplicationFailure.create({ message: `invalid termination mode: ${String(mode)}`, type: FAILURE.badRequest, nonRetryable: true });
        }
        if (state.status !== 'terminated') rejectUnless(TERMINATE_ALLOWED, state.status);
      },
    },
  );

  function watchPostgres(): void {
    postgresExit = null;
    const scope = new wf.CancellationScope();
    watchScope = scope;
    scope.run(() => acts.watchPostgres()).then(
      (exit) => {
        if (watchScope === scope) postgresExit = exit;
      },
      (err) => {
        if (!wf.isCancellation(err) && watchScope === scope) postgresExit = { code: null, signal: null };
      },
    );
  }

  function stopWatching(): void {
    watchScope?.cancel();
    watchScope = null;
    postgresExit = null;
  }

  async function start(spec: ParsedSpec, fromConfigure: boolean): Promise<void> {
    state.spec = spec;
    if (fromConfigure) {
      // §4.1 step 5: pool waiting is not part of the startup.
      const now = Date.now();
      state.metrics.wait_for_spec_ms = Math.max(0, now - Date.parse(state.startTime));
      state.startTime = new Date(now).toISOString();
    }
    setStatus('init');
    const attempt = ++state.startAttempts;
    try {
      const result = await wf.executeChild(computeStartup, {
        workflowId: `${workflowId}-startup-${attempt}`,
        args: [{ spec, basebackupRetries: input.basebackupRetries }],
      });
      state.metrics = { ...state.metrics, ...result.metrics, total_startup_ms: Date.now() - Date.parse(state.startTime) };
      state.postgresRunning = true;
      state.pendingRestart = result.pendingRestart ?? [];
      state.error = null;
      watchPostgres();
      setStatus('running');
      if (wf.patched('background-migrations')) {
        // §5.8: in the background; a failure is counted by the activity, never fails the compute.
        acts.runMigrations(spec).catch(() => undefined);
      }
      if (spec.mode.type === 'static' && spec.storage.type === 'neon' && wf.patched('lsn-lease')) {
        // Ends with the lifecycle workflow (parent close policy: terminate).
        // Abandoned, not terminated, when this run closes: it outlives continue-as-new, and
        // termination cancels it explicitly.
        await wf.startChild(lsnLease, {
          workflowId: `${workflowId}-lease`,
          args: [{ spec, parentId: workflowId, roundsPerRun: input.leaseRoundsPerRun }],
          parentClosePolicy: wf.ParentClosePolicy.ABANDON,
        });
        state.leaseStarted = true;
      }
    } catch (err) {
      setStatus('failed', errorChain(err));
    }
  }

  async function reconfigure(spec: ParsedSpec): Promise<void> {
    state.spec = spec;
    if (state.leaseStarted) {
      // The lease workflow wakes at once and leases from the new pageservers (§8.2).
      await wf.getExternalWorkflowHandle(`${workflowId}-lease`).signal(pageserversChangedSignal, spec).catch(() => undefined);
    }
    setStatus('configuration');
    const attempt = ++state.reconfigureAttempts;
    try {
      const result = await wf.executeChild(computeReconfigure, { workflowId: `${workflowId}-reconfigure-${attempt}`, args: [{ spec }] });
      state.pendingRestart = result?.pendingRestart ?? [];
      state.error = null;
      setStatus('running');
    } catch (err) {
      // Postgres keeps running after a failed reconfiguration (§3).
      setStatus('failed', errorChain(err));
    }
  }

  async function terminate(mode: TerminateMode): Promise<void> {
    stopWatching();
    if (state.leaseStarted && wf.patched('cancel-lease-on-terminate')) {
      await wf.getExternalWorkflowHandle(`${workflowId}-lease`).cancel().catch(() => undefined);
    }
    const hadPostgres = state.postgresRunning;
    state.postgresRunning = false;
    try {
      const result = await wf.executeChild(computeTermination, {
        workflowId: `${workflowId}-termination`,
        args: [{ mode, spec: hadPostgres ? state.spec : null }],
      });
      state.terminateLsn = result.lsn;
    } catch (err) {
      state.error = errorChain(err);
    }
    setStatus('terminated');
  }

  const startAtOnce = pendingSpec !== null;
  if (resumed) {
    // A new run after continue-as-new: the memo and the watch on Postgres start again.
    wf.upsertMemo({ status: view() });
    if (state.postgresRunning) watchPostgres();
  }
  const shouldContinueAsNew = () =>
    continuesAsNew &&
    (state.status === 'empty' || state.status === 'running' || state.status === 'failed') &&
    pendingSpec === null &&
    postgresExit === null &&
    wf.allHandlersFinished() &&
    (wf.workflowInfo().historyLength >= (input.historyThreshold ?? HISTORY_THRESHOLD) || wf.workflowInfo().continueAsNewSuggested);

  for (;;) {
    await wf.condition(
      () =>
        (startAtOnce && state.startAttempts === 0) ||
        state.status === 'configuration_pending' ||
        isTerminationPending(state.status) ||
        postgresExit !== null ||
        shouldContinueAsNew(),
    );
    if (shouldContinueAsNew() && !(startAtOnce && state.startAttempts === 0)) {
      stopWatching();
      const { spec: _spec, ...carried } = input;
      await wf.continueAsNew<typeof computeLifecycle>({ ...carried, state });
    }
    if (isTerminationPending(state.status)) {
      await terminate(terminateMode ?? 'fast');
      break;
    }
    if (postgresExit !== null) {
      const exit: PostmasterExit = postgresExit;
      stopWatching();
      state.postgresRunning = false;
      const message = postgresExitMessage(exit);
      if (state.status === 'failed') state.error = message;
      else setStatus('failed', message);
      configureHandled = configureRequests; // a pending /configure answers with the failure
      continue;
    }
    const spec = pendingSpec;
    pendingSpec = null;
    if (spec === null) throw new Error('configuration requested without a spec');
    if (state.startAttempts === 0 || !state.postgresRunning) await start(spec, state.status === 'configuration_pending');
    else await reconfigure(spec);
    configureHandled = configureRequests;
  }

  await wf.condition(wf.allHandlersFinished);
  return { status: state.status, lsn: state.terminateLsn, mode: terminateMode };
}
