// The state and behaviour of one compute's lifecycle workflow, in the shape of the samples'
// safe-message-handlers ClusterManager: the update handlers validate and record a request, the
// main loop (lifecycle.ts) carries the requests out one at a time as child workflows, and every
// new status view goes to the memo, the search attributes and the compute's pod.
import * as wf from '@temporalio/workflow';
import { FAILURE } from '../compute/failures';
import {
  leaseWorkflowId,
  lifecycleWorkflowId,
  promotionWorkflowId,
  reconfigureWorkflowId,
  startupWorkflowId,
  terminationWorkflowId,
} from '../compute/ids';
import { newLifecycleState, podReport, statusView, type LifecycleState, type PostmasterExitReport, type Reported } from '../compute/lifecycle-state';
import { canTransition, CONFIGURE_ALLOWED, isTerminationPending, REFRESH_ALLOWED, TERMINATE_ALLOWED, terminationPending, type ComputeStatus } from '../compute/status';
import { invalidStatusMessage, postgresExitMessage, refreshRefusedMessage } from '../compute/texts';
import { newLfcStates, type PromoteState, type StatusView, type TerminateMode, type TerminateResult } from '../compute/views';
import { COMPUTE_STATUS, computeSearchAttributes } from '../compute/search-attributes';
import { promotedSpec, sameStorageSource, wantsTls, type ParsedSpec } from '../compute-spec/parse';
import { stepsOf, type ComputeSteps } from './activity-proxies';
import { errorChain } from './errors';
import { lsnLease } from './lease';
import { LfcOperations } from './lfc';
import {
  configureUpdate,
  leaseUpdateSignal,
  lfcCancelPrewarmUpdate,
  lfcOffloadUpdate,
  lfcPrewarmUpdate,
  lfcQuery,
  pageserversChangedSignal,
  certificateChangedUpdate,
  postgresExitedUpdate,
  promoteUpdate,
  refreshConfigurationUpdate,
  statusQuery,
  terminateUpdate,
} from './messages';
import { computePromotion } from './promotion';
import { computeReconfigure } from './reconfigure';
import { computeStartup } from './startup';
import { computeTermination } from './termination';

export type { LifecycleState } from '../compute/lifecycle-state';

export interface LifecycleInput {
  computeId: string;
  /** Its name across runs, given by the client that starts it (its start memo names it too). */
  lifecycleId?: string;
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
  /**
   * The namespace has the compute search attributes registered (the pod checked at boot): the
   * lifecycle keeps ComputeStatus and the ids current and gives its children the ids. Without
   * them, setting one would fail every workflow task.
   */
  searchAttributes?: boolean;
}

export interface LifecycleResult {
  status: ComputeStatus;
  lsn: string | null;
  mode: TerminateMode | null;
}

/**
 * What the main loop does next, in this order of precedence: a termination beats everything, a
 * dead postmaster beats the requests that would need it, and a long history is cut only at rest.
 */
export type Work = 'terminate' | 'postgres_exit' | 'promote' | 'refresh' | 'configure' | 'continue_as_new';

const HISTORY_THRESHOLD = 5_000;
/** §10: the configurator's pause after a refresh that changed nothing or failed. */
const REFRESH_PAUSE_MS = 5_000;
/** How long a closing lifecycle waits for its pod to take the last report (a gone pod reads it at boot). */
const LAST_REPORT_WAIT_MS = 10_000;

/** A /configure (or the spec given at start) that the main loop has yet to carry out. */
interface ConfigureRequest {
  spec: ParsedSpec;
  handled: boolean;
}

/** §6.3's answers (Neon's texts) to a second prewarm or offload while one runs. */
const PREWARM_IN_PROGRESS = 'Multiple requests for prewarm are not allowed';
const OFFLOAD_IN_PROGRESS = 'Multiple requests for prewarm offload are not allowed';

function rejectUnless(allowed: readonly ComputeStatus[], status: ComputeStatus): void {
  if (!allowed.includes(status)) {
    throw wf.ApplicationFailure.create({ message: invalidStatusMessage(status), type: FAILURE.invalidStatus, nonRetryable: true });
  }
}

export class ComputeLifecycle {
  readonly state: LifecycleState;
  private readonly steps: ComputeSteps;
  private pending: ConfigureRequest | null;
  /** The last postmaster exit the pod reported (it may be of a postmaster no longer ours). */
  private postgresExit: PostmasterExitReport | null = null;
  /** Postgres asked for a refresh (§10) that the main loop has yet to carry out. */
  private refreshRequested = false;
  /** The /promote being carried out (or done); its callers wait for `result`. */
  private promotion: { spec: ParsedSpec; walFlushLsn: string; result: PromoteState | null } | null = null;
  /** A report to the pod is on its way; the version the pod was last sent. */
  private reporting = false;
  private reportedVersion = 0;
  /** LFC prewarm and offload, beside the main loop. */
  private readonly lfc: LfcOperations;

  constructor(private readonly input: LifecycleInput) {
    this.state = input.state ?? newLifecycleState(input.computeId, input.processStartTime ?? new Date().toISOString(), input.lifecycleId ?? wf.uuid4());
    this.steps = stepsOf(this.state.computeId);
    // A state carried from a run that predates the LFC states.
    this.state.lfc ??= newLfcStates();
    this.lfc = new LfcOperations(this.state, this.steps, () => this.publish());
    // A spec given at start is carried out at once; after continue-as-new it has been already.
    this.pending = input.state === undefined && input.spec ? { spec: input.spec, handled: false } : null;
  }

  registerHandlers(): void {
    wf.setHandler(statusQuery, () => this.view());
    wf.setHandler(leaseUpdateSignal, (lease) => {
      this.state.lease = lease;
      this.publish();
    });
    wf.setHandler(configureUpdate, (spec) => this.handleConfigure(spec), {
      validator: (_spec: ParsedSpec) => rejectUnless(CONFIGURE_ALLOWED, this.state.status),
    });
    wf.setHandler(refreshConfigurationUpdate, () => this.reported(this.handleRefresh()), {
      validator: () => {
        if (!REFRESH_ALLOWED.includes(this.state.status)) {
          throw wf.ApplicationFailure.create({ message: refreshRefusedMessage(this.state.status), type: FAILURE.invalidStatus, nonRetryable: true });
        }
      },
    });
    wf.setHandler(promoteUpdate, (spec, walFlushLsn) => this.handlePromote(spec, walFlushLsn), {
      validator: (_spec: ParsedSpec, _lsn: string) => rejectUnless(['running'], this.state.status),
    });
    wf.setHandler(terminateUpdate, (mode) => this.handleTerminate(mode), {
      validator: (_mode: TerminateMode) => {
        if (this.state.status !== 'terminated') rejectUnless(TERMINATE_ALLOWED, this.state.status);
      },
    });
    wf.setHandler(certificateChangedUpdate, async () => {
      if (this.state.status !== 'running' || !this.state.spec) return this.reported(false);
      await this.handleConfigure(this.state.spec);
      return this.reported(true);
    });
    wf.setHandler(lfcQuery, () => this.state.lfc);
    wf.setHandler(
      lfcPrewarmUpdate,
      (fromEndpoint) => {
        this.lfc.prewarm(this.state.spec!, fromEndpoint);
        return this.reported(this.state.lfc.prewarm);
      },
      { validator: (_from: string | null) => this.rejectLfcRequest(this.lfc.prewarming(), PREWARM_IN_PROGRESS) },
    );
    wf.setHandler(lfcCancelPrewarmUpdate, () => {
      this.lfc.cancelPrewarm();
      return this.reported(this.state.lfc.prewarm);
    });
    wf.setHandler(
      lfcOffloadUpdate,
      () => {
        void this.lfc.offload(this.state.spec!, false);
        return this.reported(this.state.lfc.offload);
      },
      { validator: () => this.rejectLfcRequest(this.lfc.offloadRunning(), OFFLOAD_IN_PROGRESS) },
    );
    wf.setHandler(postgresExitedUpdate, (exit) => {
      this.postgresExit = exit;
      return this.reported(null);
    });
  }

  /** An LFC request needs the compute's Postgres (412), and one of its kind at a time (429). */
  private rejectLfcRequest(running: boolean, inProgress: string): void {
    const { status } = this.state;
    if (!this.state.postgresRunning || !this.state.spec || isTerminationPending(status) || status === 'terminated') {
      throw wf.ApplicationFailure.create({ message: invalidStatusMessage(status), type: FAILURE.invalidStatus, nonRetryable: true });
    }
    if (running) throw wf.ApplicationFailure.create({ message: inProgress, type: FAILURE.requestInProgress, nonRetryable: true });
  }

  /** The /status body; also the memo, so that describe() answers when no worker is polling. */
  view(): StatusView {
    return statusView(this.state);
  }

  private reported<T>(result: T): Reported<T> {
    return { result, report: podReport(this.state) };
  }

  private setStatus(to: ComputeStatus, error?: string): void {
    if (!canTransition(this.state.status, to)) throw new Error(`illegal status transition ${this.state.status} -> ${to}`);
    this.state.status = to;
    if (error !== undefined) this.state.error = error;
    this.publish();
  }

  /**
   * A new status view: to the memo (describe() answers from it when no orchestrator does), the
   * search attributes, and the pod (which answers /status from it).
   */
  private publish(): void {
    this.state.version++;
    wf.upsertMemo({ status: this.view(), lifecycle: this.state.lifecycleId, version: this.state.version, lfc: this.state.lfc });
    this.upsertSearchAttributes();
    this.tellPod();
  }

  /** Only what changed: each upsert is an event in the history. */
  private upsertSearchAttributes(): void {
    if (!this.input.searchAttributes) return;
    const wanted = [...computeSearchAttributes(this.state.computeId, this.state.spec), { key: COMPUTE_STATUS, value: this.state.status }];
    const current = wf.workflowInfo().typedSearchAttributes;
    const changed = wanted.filter((p) => current.get(p.key) !== p.value);
    if (changed.length > 0) wf.upsertSearchAttributes(changed);
  }

  /**
   * The newest view to the pod, one report at a time and not awaited: views that follow each
   * other quickly (configuration_pending, init, running) reach it as one or two reports.
   */
  private tellPod(): void {
    if (this.reporting || this.reportedVersion >= this.state.version) return;
    this.reporting = true;
    void (async () => {
      try {
        while (this.reportedVersion < this.state.version) {
          const report = podReport(this.state);
          this.reportedVersion = report.version;
          // A pod that is away reads the view again when it boots: a lapsed report loses nothing.
          await this.steps.reportStatus(report).catch(() => undefined);
        }
      } finally {
        this.reporting = false;
      }
    })();
  }

  /** What each child workflow carries: the compute's ids, and a line saying what it is for the UI. */
  private childOptions(summary: string, spec: ParsedSpec | null = this.state.spec): { typedSearchAttributes?: ReturnType<typeof computeSearchAttributes>; staticSummary: string } {
    return {
      ...(this.input.searchAttributes ? { typedSearchAttributes: computeSearchAttributes(this.state.computeId, spec) } : {}),
      staticSummary: `${summary} of compute ${this.state.computeId}`,
    };
  }

  /** Completes when the main loop has carried the request out: running (the status) or failed. */
  private async handleConfigure(spec: ParsedSpec): Promise<Reported<StatusView>> {
    const request: ConfigureRequest = { spec, handled: false };
    this.pending = request;
    this.setStatus('configuration_pending');
    await wf.condition(() => request.handled);
    if (this.state.status === 'failed') {
      throw wf.ApplicationFailure.create({
        message: `compute configuration failed: ${JSON.stringify(this.state.error)}`,
        type: FAILURE.configurationFailed,
        nonRetryable: true,
        // The view the failure left, for the pod (as a successful update's report is).
        details: [podReport(this.state)],
      });
    }
    return this.reported(this.view());
  }

  /** Recorded, not awaited (§10: the handler does not wait for the refresh); in `init` nothing to do. */
  private handleRefresh(): boolean {
    if (this.state.status === 'init') return false;
    this.refreshRequested = true;
    if (this.state.status !== 'refresh_configuration_pending') this.setStatus('refresh_configuration_pending');
    return true;
  }

  /** Concurrent and repeated calls share the promotion; after a failed one, a new call tries again. */
  private async handlePromote(spec: ParsedSpec, walFlushLsn: string): Promise<Reported<PromoteState>> {
    if (this.promotion === null || this.promotion.result?.status === 'failed') this.promotion = { spec, walFlushLsn, result: null };
    const promotion = this.promotion;
    await wf.condition(() => promotion.result !== null);
    return this.reported(promotion.result!);
  }

  private async handleTerminate(mode: TerminateMode): Promise<Reported<TerminateResult>> {
    if (this.state.status === 'terminated') return this.reported({ lsn: this.state.terminateLsn, already_terminated: true });
    this.state.terminateMode = mode;
    this.setStatus(terminationPending(mode));
    await wf.condition(() => this.state.status === 'terminated');
    return this.reported({ lsn: this.state.terminateLsn, already_terminated: false });
  }

  /** The status is published at once: a new compute's, or the one carried through continue-as-new. */
  begin(): void {
    this.publish();
    // After continue-as-new: the periodic offload goes on in this run.
    if (this.state.postgresRunning) this.lfc.startPeriodicOffload(() => this.state.spec);
  }

  /** The postmaster the last start left running has exited (the pod said so). */
  private postgresExited(): boolean {
    return this.postgresExit !== null && this.state.postgresRunning && this.postgresExit.pid === this.state.postmasterPid;
  }

  private promotionDue(): boolean {
    return this.promotion !== null && this.promotion.result === null;
  }

  /** The one list of what there is to do (see Work), or null: the main loop waits on it. */
  nextWork(): Work | null {
    const { status } = this.state;
    if (isTerminationPending(status)) return 'terminate';
    if (this.postgresExited()) return 'postgres_exit';
    if (this.promotionDue()) return 'promote';
    if (this.refreshRequested && this.pending === null) return 'refresh';
    if (this.pending !== null) return 'configure';
    const atRest = (status === 'empty' || status === 'running' || status === 'failed') && !this.refreshRequested && wf.allHandlersFinished() && !this.lfc.busy();
    const info = wf.workflowInfo();
    if (atRest && (info.historyLength >= (this.input.historyThreshold ?? HISTORY_THRESHOLD) || info.continueAsNewSuggested)) return 'continue_as_new';
    return null;
  }

  async continueAsNew(): Promise<never> {
    const { spec: _spec, ...carried } = this.input;
    return wf.continueAsNew<(input: LifecycleInput) => Promise<LifecycleResult>>({ ...carried, state: this.state });
  }

  /** Carries out the pending /configure: the first start (or a start after Postgres stopped), else a reconfiguration. */
  async configure(): Promise<void> {
    const request = this.pending;
    if (request === null) return;
    this.pending = null;
    if (this.state.startAttempts === 0 || !this.state.postgresRunning) await this.start(request.spec, this.state.status === 'configuration_pending');
    else await this.reconfigure(request.spec);
    request.handled = true;
  }

  /** Postgres exited on its own: the compute has failed; a pending /configure answers with that. */
  failOnPostgresExit(): void {
    const { exit } = this.postgresExit!;
    this.postgresExit = null;
    this.lfc.stop();
    this.state.postgresRunning = false;
    this.state.postmasterPid = null;
    const message = postgresExitMessage(exit);
    if (this.state.status === 'failed') {
      this.state.error = message;
      this.publish();
    } else this.setStatus('failed', message);
    if (this.pending) {
      this.pending.handled = true;
      this.pending = null;
    }
  }

  /**
   * After a step that the compute comes back to `running` from: if the pod reported the postmaster's
   * exit before the step ended (earlier in the history), the compute fails instead. Whichever the
   * history holds first decides, so the outcome does not hang on a race.
   */
  private exitedMeanwhile(): boolean {
    if (!this.postgresExited()) return false;
    this.failOnPostgresExit();
    return true;
  }

  async terminate(): Promise<void> {
    this.lfc.stop();
    if (this.state.leaseStarted) {
      await wf.getExternalWorkflowHandle(leaseWorkflowId(this.state.computeId)).cancel().catch(() => undefined);
    }
    const hadPostgres = this.state.postgresRunning;
    this.state.postgresRunning = false;
    this.state.postmasterPid = null;
    const mode = this.state.terminateMode ?? 'fast';
    try {
      const result = await wf.executeChild(computeTermination, {
        workflowId: terminationWorkflowId(this.state.computeId),
        args: [{ computeId: this.state.computeId, mode, spec: hadPostgres ? this.state.spec : null }],
        ...this.childOptions(`${mode} termination`),
      });
      this.state.terminateLsn = result.lsn;
    } catch (err) {
      this.state.error = errorChain(err);
    }
    this.setStatus('terminated');
  }

  /** Lets the terminate update answer, and the pod take the last report, before the workflow completes. */
  async finish(): Promise<LifecycleResult> {
    await wf.condition(wf.allHandlersFinished);
    // A closed workflow's activities are dropped: the pod would not learn the end.
    await wf.condition(() => !this.reporting, LAST_REPORT_WAIT_MS);
    return { status: this.state.status, lsn: this.state.terminateLsn, mode: this.state.terminateMode };
  }

  private async start(spec: ParsedSpec, fromConfigure: boolean): Promise<void> {
    const { state } = this;
    state.spec = spec;
    if (fromConfigure) {
      // §4.1 step 5: pool waiting is not part of the startup.
      const now = Date.now();
      state.metrics.wait_for_spec_ms = Math.max(0, now - Date.parse(state.startTime));
      state.startTime = new Date(now).toISOString();
    }
    // An exit reported before this start is of a postmaster an earlier start left.
    this.postgresExit = null;
    // A new Postgres: a new cache (§6.3's states are the process's in Neon).
    this.lfc.stop();
    state.lfc = newLfcStates();
    this.setStatus('init');
    const attempt = ++state.startAttempts;
    try {
      const result = await wf.executeChild(computeStartup, {
        workflowId: startupWorkflowId(state.computeId, attempt),
        args: [{ computeId: state.computeId, spec, basebackupRetries: this.input.basebackupRetries }],
        ...this.childOptions(`start ${attempt} (${spec.mode.type}, ${spec.storage.type} storage)`, spec),
      });
      state.metrics = { ...state.metrics, ...result.metrics, total_startup_ms: Date.now() - Date.parse(state.startTime) };
      state.postgresRunning = true;
      state.postmasterPid = result.pid;
      state.pendingRestart = result.pendingRestart;
      state.error = null;
      if (this.exitedMeanwhile()) return;
      this.setStatus('running');
      // §5.8: in the background; a failure is counted by the activity, never fails the compute.
      this.steps.runMigrations(spec).catch(() => undefined);
      this.tuneNeighbours(spec, false);
      // §4.2 step 10, in the background.
      if (spec.spec.autoprewarm) this.lfc.prewarm(spec, null);
      this.lfc.startPeriodicOffload(() => this.state.spec);
      if (spec.mode.type === 'static' && spec.storage.type === 'neon') {
        // Abandoned, not terminated, when this run closes: it outlives continue-as-new, and
        // termination cancels it explicitly.
        await wf.startChild(lsnLease, {
          workflowId: leaseWorkflowId(state.computeId),
          args: [{ computeId: state.computeId, spec, parentId: lifecycleWorkflowId(state.computeId), roundsPerRun: this.input.leaseRoundsPerRun }],
          ...this.childOptions('the LSN lease', spec),
          parentClosePolicy: wf.ParentClosePolicy.ABANDON,
        });
        state.leaseStarted = true;
      }
    } catch (err) {
      this.setStatus('failed', errorChain(err));
    }
  }

  private async reconfigure(spec: ParsedSpec): Promise<void> {
    await this.installSpec(spec);
    this.setStatus('configuration');
    const error = await this.runReconfigure(spec);
    if (this.exitedMeanwhile()) return;
    // Postgres keeps running after a failed reconfiguration (§3).
    if (error === null) this.setStatus('running');
    else this.setStatus('failed', error);
  }

  private async installSpec(spec: ParsedSpec): Promise<void> {
    this.state.spec = spec;
    if (this.state.leaseStarted) {
      // The lease workflow wakes at once and leases from the new pageservers (§8.2).
      await wf.getExternalWorkflowHandle(leaseWorkflowId(this.state.computeId)).signal(pageserversChangedSignal, spec).catch(() => undefined);
    }
  }

  /**
   * §4.2 step 3 and §5.1's reconfiguration: pgbouncer_settings, and on a reconfiguration
   * local_proxy_config (a start configures it in its own step), in the background. A failure is in
   * this history and the log; it never fails the compute.
   */
  private tuneNeighbours(spec: ParsedSpec, reconfiguration: boolean): void {
    const { pgbouncer_settings: pgbouncer, local_proxy_config: localProxy } = spec.spec;
    const tls = wantsTls(spec);
    if (pgbouncer) this.steps.tunePgbouncer(pgbouncer, tls).catch((err) => wf.log.warn(`pgbouncer_settings not applied: ${errorChain(err)}`));
    if (reconfiguration && localProxy) {
      this.steps.configureLocalProxy(localProxy, tls).catch((err) => wf.log.warn(`local_proxy_config not applied: ${errorChain(err)}`));
    }
  }

  /** The installed spec applied by a computeReconfigure child; the error text, or null. */
  private async runReconfigure(spec: ParsedSpec): Promise<string | null> {
    const { state } = this;
    const attempt = ++state.reconfigureAttempts;
    try {
      const result = await wf.executeChild(computeReconfigure, {
        workflowId: reconfigureWorkflowId(state.computeId, attempt),
        args: [{ computeId: state.computeId, spec }],
        ...this.childOptions(`reconfiguration ${attempt}`, spec),
      });
      state.pendingRestart = result.pendingRestart;
      state.error = null;
      this.tuneNeighbours(spec, true);
      // A spec that now sets offload_lfc_interval_seconds starts the rounds (a changed one is read each round).
      this.lfc.startPeriodicOffload(() => this.state.spec);
      return null;
    } catch (err) {
      return errorChain(err);
    }
  }

  /**
   * §10: the config fetched again from where the pod got it; the compute is reconfigured only
   * when the storage it reads pages from changed. A failed fetch or reconfiguration waits for the
   * next request; a control plane that no longer has a spec for the compute ends it.
   */
  async refresh(): Promise<void> {
    this.refreshRequested = false;
    if (this.state.status !== 'refresh_configuration_pending') this.setStatus('refresh_configuration_pending');
    this.setStatus('refresh_configuration');
    let spec: ParsedSpec | null;
    try {
      spec = (await this.steps.fetchConfig()).spec;
    } catch (err) {
      await this.pause();
      this.setStatus('refresh_configuration_pending', errorChain(err));
      return;
    }
    if (spec === null) {
      this.state.terminateMode = 'immediate';
      this.setStatus('termination_pending_immediate', 'compute is no longer attached: the control plane has no spec for it');
      return;
    }
    if (this.exitedMeanwhile()) return;
    if (!this.state.postgresRunning) {
      this.setStatus('failed', this.state.error ?? 'Postgres is not running');
      return;
    }
    if (this.state.spec && sameStorageSource(this.state.spec, spec)) {
      this.setStatus('running');
      await this.pause();
      return;
    }
    await this.installSpec(spec);
    const error = await this.runReconfigure(spec);
    if (this.exitedMeanwhile()) return;
    if (error === null) this.setStatus('running');
    else this.setStatus('refresh_configuration_pending', error);
  }

  /**
   * §6.3 /promote: the replica's Postgres promoted (a computePromotion child), then the given spec
   * installed as a Primary one and applied (computeReconfigure). The status stays `running`; a
   * failed reconfiguration fails the compute as any does.
   */
  async promote(): Promise<void> {
    const promotion = this.promotion!;
    const current = this.state.spec;
    if (!current || current.mode.type !== 'replica') {
      promotion.result = { status: 'failed', error: `${current?.mode.type ?? 'a compute without a spec'} is not replica` };
      return;
    }
    // §6.3: not over a cache being filled (Neon refuses a replica never prewarmed too: see the README).
    if (this.lfc.prewarming()) {
      promotion.result = { status: 'failed', error: 'compute Prewarming' };
      return;
    }
    const attempt = ++this.state.promoteAttempts;
    const target = promotion.spec;
    try {
      await wf.executeChild(computePromotion, {
        workflowId: promotionWorkflowId(this.state.computeId, attempt),
        args: [{ computeId: this.state.computeId, walFlushLsn: promotion.walFlushLsn, safekeepers: target.storage.type === 'neon' ? target.storage.safekeepers : null }],
        ...this.childOptions(`promotion ${attempt} of the replica to primary`),
      });
    } catch (err) {
      promotion.result = { status: 'failed', error: errorChain(err) };
      return;
    }
    const primary = promotedSpec(target, current);
    await this.installSpec(primary);
    this.publish(); // the mode is now primary
    const error = await this.runReconfigure(primary);
    if (this.exitedMeanwhile()) {
      promotion.result = { status: 'failed', error: this.state.error ?? 'Postgres exited' };
      return;
    }
    if (error !== null) this.setStatus('failed', error);
    else this.publish();
    promotion.result = error === null ? { status: 'completed' } : { status: 'failed', error };
  }

  /** The configurator's 5 s pause, cut short by a termination, a /configure or Postgres' exit. */
  private async pause(): Promise<void> {
    await wf.condition(() => isTerminationPending(this.state.status) || this.pending !== null || this.postgresExited(), REFRESH_PAUSE_MS);
  }
}
