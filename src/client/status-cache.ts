// The in-pod process's own reads: the compute's status as the lifecycle workflow last reported it
// (through a sink, src/workflows/sinks.ts), so that /status and /metrics cost no Temporal round trip
// and keep answering while Temporal is away. Missing (a fresh process before its workflow reported),
// it falls back to the memo and then to the query.
import type { InjectedSinks } from '@temporalio/worker';
import { lifecycleWorkflowId } from '../compute/ids';
import type { StatusView, TerminateMode, TerminateResult } from '../compute/status';
import type { ParsedSpec } from '../compute-spec/parse';
import type { ComputeSinks } from '../workflows/sinks';
import type { ComputeClient, ComputeOperations } from './index';

export class StatusCache implements ComputeOperations {
  private view: StatusView | null = null;

  constructor(
    private readonly computes: ComputeClient,
    private readonly computeId: string,
  ) {}

  /** The sinks to give the worker: the lifecycle workflow of this compute reports here. */
  sinks(): InjectedSinks<ComputeSinks> {
    const workflowId = lifecycleWorkflowId(this.computeId);
    return {
      compute: {
        status: {
          fn: (info, view) => {
            if (info.workflowId === workflowId) this.view = view;
          },
          // A restarted worker learns the status again while it replays the history.
          callDuringReplay: true,
        },
      },
    };
  }

  /** Fills the cache from the memo (one describe(), no worker needed) unless the workflow reported first. */
  async seed(): Promise<void> {
    const memo = await this.computes.statusFromMemo(this.computeId);
    this.view ??= memo;
  }

  async status(computeId: string): Promise<StatusView> {
    if (computeId === this.computeId && this.view) return this.view;
    return this.computes.status(computeId);
  }

  configure(computeId: string, spec: ParsedSpec, requestId?: string): Promise<StatusView> {
    return this.computes.configure(computeId, spec, requestId);
  }

  terminate(computeId: string, mode: TerminateMode, requestId?: string): Promise<TerminateResult> {
    return this.computes.terminate(computeId, mode, requestId);
  }
}
