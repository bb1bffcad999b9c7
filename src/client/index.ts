// Typed control-plane helpers over the Temporal client, used by the CLI and the pod. Every call has
// a deadline: an update or query with no orchestrator polling would otherwise wait forever.
import { randomUUID } from 'node:crypto';
import {
  Client,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, ValueError, WorkflowNotFoundError } from '@temporalio/common';
import type { ParsedSpec } from '../compute-spec/parse';
import type { computeLifecycle } from '../workflows/lifecycle';
import { ComputeError, FAILURE } from '../compute/failures';
import { computeIdOf, DEFAULT_ORCHESTRATOR_QUEUE, leaseWorkflowId, lifecycleWorkflowId } from '../compute/ids';
import {
  configureUpdate,
  lfcCancelPrewarmUpdate,
  lfcOffloadUpdate,
  lfcPrewarmUpdate,
  lfcQuery,
  postgresExitedUpdate,
  promoteUpdate,
  refreshConfigurationUpdate,
  certificateChangedUpdate,
  statusQuery,
  terminateUpdate,
} from '../workflows/messages';
import { newLifecycleState, statusView, type PodReport, type PostmasterExitReport, type Reported } from '../compute/lifecycle-state';
import { COMPUTE_STATUS, computeSearchAttributes } from '../compute/search-attributes';
import { invalidStatusMessage, refreshRefusedMessage } from '../compute/texts';
import { type ComputeStatus } from '../compute/status';
import { newLfcStates, type LfcOffloadState, type LfcPrewarmState, type LfcStates, type PromoteState, type StatusView, type TerminateMode, type TerminateResult } from '../compute/views';

export { ComputeError, type ComputeErrorKind } from '../compute/failures';

/** What the HTTP API asks of the client (its tests pass a fake). */
export interface ComputeOperations {
  status(computeId: string): Promise<StatusView>;
  configure(computeId: string, spec: ParsedSpec, requestId?: string): Promise<StatusView>;
  terminate(computeId: string, mode: TerminateMode, requestId?: string): Promise<TerminateResult>;
  /** §10: recorded at once (true), or a no-op while the compute starts (false); not awaited. */
  refreshConfiguration(computeId: string): Promise<boolean>;
  /** §6.3: a Replica made the Primary of `spec`; resolves with how it ended. */
  promote(computeId: string, spec: ParsedSpec, walFlushLsn: string, requestId?: string): Promise<PromoteState>;
  /** §6.3 GET /lfc/prewarm and /lfc/offload. */
  lfcStates(computeId: string): Promise<LfcStates>;
  /** §6.3 POST /lfc/prewarm: started (its state, `prewarming`), or refused while one runs. */
  prewarmLfc(computeId: string, fromEndpoint: string | null): Promise<LfcPrewarmState>;
  /** §6.3 DELETE /lfc/prewarm. */
  cancelLfcPrewarm(computeId: string): Promise<LfcPrewarmState>;
  /** §6.3 POST /lfc/offload: started, or refused while one runs. */
  offloadLfc(computeId: string): Promise<LfcOffloadState>;
}

export interface ComputeClientOptions {
  /** Deadline of queries and describe calls. */
  queryTimeoutMs: number;
  /** Deadline of /configure and /terminate, which wait for the compute to get there. */
  operationTimeoutMs: number;
  /** The orchestrators' shared task queue, where lifecycle workflows are started. */
  orchestratorQueue: string;
  /** Called with the status view each update left the compute in (the pod keeps the newest). */
  onReport?: (report: PodReport) => void;
}

export const DEFAULT_CLIENT_OPTIONS: ComputeClientOptions = { queryTimeoutMs: 5_000, operationTimeoutMs: 300_000, orchestratorQueue: DEFAULT_ORCHESTRATOR_QUEUE };

/** What describe() finds in a lifecycle's memo: its last view and the report's order (lifecycle, version). */
interface LifecycleMemo {
  status?: StatusView;
  lfc?: LfcStates;
  lifecycle?: string;
  version?: number;
}

export interface ComputeSummary {
  computeId: string;
  status: ComputeStatus | null;
  workflowStatus: string;
}

/** A call that ran out of its deadline (or was cancelled) before Temporal answered. */
function isTimeout(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err) || isGrpcCancelledError(err);
}

/** Maps a failed update to the error the API reports, by the SDK's error classes. */
function updateError(err: unknown): ComputeError {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const kind = err.cause.type === FAILURE.invalidStatus ? 'invalid_status' : err.cause.type === FAILURE.requestInProgress ? 'in_progress' : 'configuration_failed';
    return new ComputeError(kind, err.cause.message);
  }
  if (err instanceof WorkflowNotFoundError) return new ComputeError('not_found', 'compute not found');
  if (isTimeout(err)) return new ComputeError('timeout', 'timed out waiting for the compute; the operation continues in the background');
  return new ComputeError('unavailable', `Temporal call failed: ${(err as Error).message}`);
}

/** What the Temporal UI shows under a lifecycle workflow's summary. */
const LIFECYCLE_DETAILS = [
  'The lifecycle of one compute: it lives as long as the compute and carries out its requests one at a time.',
  '- `/configure` → a `computeStartup` child (first start) or a `computeReconfigure` child',
  '- `/terminate` → a `computeTermination` child; `/promote` → `computePromotion`',
  '- the `status` query and the memo answer what `/status` says; ComputeStatus is searchable',
].join('\n');

export class ComputeClient implements ComputeOperations {
  constructor(
    readonly client: Client,
    readonly options: ComputeClientOptions = DEFAULT_CLIENT_OPTIONS,
  ) {}

  /** The update's result; its report goes to the observer. */
  private unwrap<T>(reported: Reported<T>): T {
    this.options.onReport?.(reported.report);
    return reported.result;
  }

  handle(computeId: string): WorkflowHandle<typeof computeLifecycle> {
    return this.client.workflow.getHandle<typeof computeLifecycle>(lifecycleWorkflowId(computeId));
  }

  private deadline<T>(ms: number, fn: () => Promise<T>): Promise<T> {
    return this.client.withDeadline(Date.now() + ms, fn);
  }

  /** Starts the compute's lifecycle workflow, or attaches to the running one. */
  async ensureStarted(
    computeId: string,
    opts: {
      spec?: ParsedSpec | null;
      processStartTime?: string;
      basebackupRetries?: number;
      leaseRoundsPerRun?: number;
      historyThreshold?: number;
      /** The namespace has the compute search attributes (ensureSearchAttributes). */
      searchAttributes?: boolean;
    } = {},
  ): Promise<void> {
    const processStartTime = opts.processStartTime ?? new Date().toISOString();
    // Named here, so that the memo it starts with names it too: the pod orders what it reads by it.
    const lifecycleId = randomUUID();
    const initial = newLifecycleState(computeId, processStartTime, lifecycleId);
    await this.deadline(this.options.queryTimeoutMs, () =>
      this.client.workflow.start<typeof computeLifecycle>('computeLifecycle', {
        workflowId: lifecycleWorkflowId(computeId),
        taskQueue: this.options.orchestratorQueue,
        args: [
          {
            computeId,
            lifecycleId,
            spec: opts.spec ?? null,
            processStartTime,
            basebackupRetries: opts.basebackupRetries,
            leaseRoundsPerRun: opts.leaseRoundsPerRun,
            historyThreshold: opts.historyThreshold,
            searchAttributes: opts.searchAttributes,
          },
        ],
        workflowIdConflictPolicy: 'USE_EXISTING',
        // /status answers from the memo before an orchestrator has run the workflow's first task.
        memo: { status: statusView(initial), lifecycle: lifecycleId, version: initial.version },
        ...(opts.searchAttributes
          ? { typedSearchAttributes: [...computeSearchAttributes(computeId, opts.spec ?? null), { key: COMPUTE_STATUS, value: initial.status }] }
          : {}),
        staticSummary: `compute ${computeId}`,
        staticDetails: LIFECYCLE_DETAILS,
      }),
    );
  }

  /** The /status body: from the workflow, or from its memo when no worker answers in time. */
  async status(computeId: string): Promise<StatusView> {
    try {
      return await this.deadline(this.options.queryTimeoutMs, () => this.handle(computeId).query(statusQuery));
    } catch (err) {
      const fromMemo = await this.statusFromMemo(computeId);
      if (fromMemo) return fromMemo;
      if (err instanceof WorkflowNotFoundError) throw new ComputeError('not_found', 'compute not found');
      // An undecodable answer: the workers encrypt and this client has not the key.
      const hint = err instanceof ValueError ? ' (payloads are encrypted: set COMPUTE_CTL_PAYLOAD_KEY)' : '';
      throw new ComputeError('unavailable', `could not read the compute status: ${(err as Error).message}${hint}`);
    }
  }

  /** The status the lifecycle workflow last put in its memo (no worker needed), or null. */
  async statusFromMemo(computeId: string): Promise<StatusView | null> {
    return (await this.memo(computeId))?.status ?? null;
  }

  private async memo(computeId: string): Promise<LifecycleMemo | null> {
    try {
      const d = await this.deadline(this.options.queryTimeoutMs, () => this.handle(computeId).describe());
      return (d.memo as LifecycleMemo | undefined) ?? null;
    } catch {
      return null;
    }
  }

  /**
   * The pod's read at boot: the view the lifecycle last published, with its order, from its memo
   * (no orchestrator needed); null when there is no such lifecycle. Throws when Temporal is away.
   */
  async podReport(computeId: string): Promise<PodReport | null> {
    let memo: LifecycleMemo | undefined;
    try {
      memo = (await this.deadline(this.options.queryTimeoutMs, () => this.handle(computeId).describe())).memo as LifecycleMemo | undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
    return memo?.status ? { lifecycle: memo.lifecycle ?? '', version: memo.version ?? 0, view: memo.status, lfc: memo.lfc } : null;
  }

  /**
   * The pod's report of its postmaster's exit. The update ID names the postmaster, so a report sent
   * again (Temporal was away, the answer was lost) is taken once.
   */
  async reportPostgresExit(computeId: string, exit: PostmasterExitReport): Promise<void> {
    try {
      this.unwrap(
        await this.deadline(this.options.queryTimeoutMs, () =>
          this.handle(computeId).executeUpdate(postgresExitedUpdate, { args: [exit], updateId: `postgres-exit-${exit.pid}` }),
        ),
      );
    } catch (err) {
      // The lifecycle has closed (terminated): nothing is left to fail.
      if (err instanceof WorkflowNotFoundError) return;
      throw updateError(err);
    }
  }

  /**
   * The status of a lifecycle workflow that an update could not reach because it has closed (it
   * ends at `terminated`): from its memo, or null when there is no such workflow.
   */
  private async closedStatus(computeId: string, err: unknown): Promise<StatusView | null> {
    if (!(err instanceof WorkflowNotFoundError)) return null;
    return this.statusFromMemo(computeId);
  }

  async configure(computeId: string, spec: ParsedSpec, requestId?: string): Promise<StatusView> {
    try {
      return this.unwrap(
        await this.deadline(this.options.operationTimeoutMs, () => this.handle(computeId).executeUpdate(configureUpdate, { args: [spec], updateId: requestId })),
      );
    } catch (err) {
      // A failed start or reconfiguration carries the view it left, as a success does.
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === FAILURE.configurationFailed) {
        const report = err.cause.details?.[0] as PodReport | undefined;
        if (report?.view) this.options.onReport?.(report);
      }
      // A closed workflow answers like the terminated compute it was.
      const closed = await this.closedStatus(computeId, err);
      throw closed ? new ComputeError('invalid_status', invalidStatusMessage(closed.status)) : updateError(err);
    }
  }

  async terminate(computeId: string, mode: TerminateMode, requestId?: string): Promise<TerminateResult> {
    try {
      return this.unwrap(
        await this.deadline(this.options.operationTimeoutMs, () => this.handle(computeId).executeUpdate(terminateUpdate, { args: [mode], updateId: requestId })),
      );
    } catch (err) {
      const closed = await this.closedStatus(computeId, err);
      // A repeated /terminate finds the workflow closed: answer with the stored LSN (201).
      if (closed?.status === 'terminated') return { lsn: closed.terminate_lsn, already_terminated: true };
      throw closed ? new ComputeError('invalid_status', invalidStatusMessage(closed.status)) : updateError(err);
    }
  }

  async promote(computeId: string, spec: ParsedSpec, walFlushLsn: string, requestId?: string): Promise<PromoteState> {
    try {
      return this.unwrap(
        await this.deadline(this.options.operationTimeoutMs, () =>
          this.handle(computeId).executeUpdate(promoteUpdate, { args: [spec, walFlushLsn], updateId: requestId }),
        ),
      );
    } catch (err) {
      const closed = await this.closedStatus(computeId, err);
      throw closed ? new ComputeError('invalid_status', invalidStatusMessage(closed.status)) : updateError(err);
    }
  }

  async lfcStates(computeId: string): Promise<LfcStates> {
    try {
      return await this.deadline(this.options.queryTimeoutMs, () => this.handle(computeId).query(lfcQuery));
    } catch (err) {
      const memo = await this.memo(computeId);
      if (memo?.status) return memo.lfc ?? newLfcStates();
      throw err instanceof WorkflowNotFoundError ? new ComputeError('not_found', 'compute not found') : updateError(err);
    }
  }

  prewarmLfc(computeId: string, fromEndpoint: string | null): Promise<LfcPrewarmState> {
    return this.lfcUpdate(computeId, () => this.handle(computeId).executeUpdate(lfcPrewarmUpdate, { args: [fromEndpoint] }));
  }

  cancelLfcPrewarm(computeId: string): Promise<LfcPrewarmState> {
    return this.lfcUpdate(computeId, () => this.handle(computeId).executeUpdate(lfcCancelPrewarmUpdate));
  }

  offloadLfc(computeId: string): Promise<LfcOffloadState> {
    return this.lfcUpdate(computeId, () => this.handle(computeId).executeUpdate(lfcOffloadUpdate));
  }

  /** The LFC updates complete once recorded: the operation itself runs in the background. */
  private async lfcUpdate<T>(computeId: string, fn: () => Promise<Reported<T>>): Promise<T> {
    try {
      return this.unwrap(await this.deadline(this.options.queryTimeoutMs, fn));
    } catch (err) {
      const closed = await this.closedStatus(computeId, err);
      throw closed ? new ComputeError('invalid_status', invalidStatusMessage(closed.status)) : updateError(err);
    }
  }

  async refreshConfiguration(computeId: string): Promise<boolean> {
    try {
      return this.unwrap(await this.deadline(this.options.queryTimeoutMs, () => this.handle(computeId).executeUpdate(refreshConfigurationUpdate)));
    } catch (err) {
      const closed = await this.closedStatus(computeId, err);
      throw closed ? new ComputeError('invalid_status', refreshRefusedMessage(closed.status)) : updateError(err);
    }
  }

  /** §12: the pod's TLS certificate changed; a running compute is reconfigured to serve it (true), else nothing (false). */
  async certificateChanged(computeId: string): Promise<boolean> {
    try {
      return this.unwrap(await this.deadline(this.options.operationTimeoutMs, () => this.handle(computeId).executeUpdate(certificateChangedUpdate)));
    } catch (err) {
      throw updateError(err);
    }
  }

  /**
   * Ends the compute's open lifecycle run (and its LSN lease, which outlives runs), so that the next
   * ensureStarted begins a new one: a new process for a compute whose Postgres is gone, as a new pod
   * is for Neon's compute_ctl. The ended run keeps its history, with `reason`.
   */
  async endLifecycleRun(computeId: string, reason: string): Promise<void> {
    for (const id of [leaseWorkflowId(computeId), lifecycleWorkflowId(computeId)]) {
      await this.deadline(this.options.queryTimeoutMs, () => this.client.workflow.getHandle(id).terminate(reason)).catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err; // not running (any more): nothing to end
      });
    }
  }

  /** Lifecycle workflows known to Temporal, newest first. */
  async list(limit = 100): Promise<ComputeSummary[]> {
    const out: ComputeSummary[] = [];
    await this.deadline(this.options.queryTimeoutMs * 2, async () => {
      for await (const wf of this.client.workflow.list({ query: "WorkflowType = 'computeLifecycle'" })) {
        const status = (wf.memo?.status as StatusView | undefined)?.status ?? null;
        out.push({ computeId: computeIdOf(wf.workflowId), status, workflowStatus: wf.status.name });
        if (out.length >= limit) break;
      }
    });
    return out;
  }
}
