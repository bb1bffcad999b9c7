// What the pod's HTTP API asks of the compute: reads from the pod's view, operations through the
// lifecycle workflow. An operation waits a little for the pod to reach its lifecycle at boot (then
// 503, retryable: never `not found` for a compute whose pod is still booting), and is refused at
// once while nothing listens at Temporal's address.
import type { ComputeClient, ComputeOperations } from '../client';
import { ComputeError } from '../compute/failures';
import type { PostmasterExitReport } from '../compute/lifecycle-state';
import { newLfcStates, type LfcOffloadState, type LfcPrewarmState, type LfcStates, type PromoteState, type StatusView, type TerminateMode, type TerminateResult } from '../compute/views';
import type { ParsedSpec } from '../compute-spec/parse';
import type { ComputeView } from './compute-view';
import { CONNECTING, type TemporalLink } from './temporal-link';

/** How long an operation waits for the pod to reach its lifecycle before answering 503. */
const ATTACH_WAIT_MS = 5_000;

export class PodOperations implements ComputeOperations {
  private computes: ComputeClient | null = null;
  private readonly attached: Promise<ComputeClient>;
  private resolveAttached!: (c: ComputeClient) => void;

  constructor(
    private readonly computeId: string,
    private readonly view: ComputeView,
    private readonly link: TemporalLink,
  ) {
    this.attached = new Promise((resolve) => (this.resolveAttached = resolve));
  }

  /** The compute's lifecycle exists and this pod serves its steps: operations go to it from now on. */
  attach(computes: ComputeClient): void {
    this.computes = computes;
    this.resolveAttached(computes);
  }

  isAttached(): boolean {
    return this.computes !== null;
  }

  private async client(): Promise<ComputeClient> {
    if (!this.computes) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ATTACH_WAIT_MS)));
      const c = await Promise.race([this.attached, timeout]).finally(() => clearTimeout(timer));
      if (!c) throw new ComputeError('unavailable', `the compute's workflow is not reachable yet: ${this.link.stale()?.reason ?? CONNECTING}`);
    }
    await this.link.gate();
    return this.computes!;
  }

  /** Runs a call of the lifecycle's, telling the link whether Temporal answered. */
  private async call<T>(fn: (c: ComputeClient) => Promise<T>): Promise<T> {
    const c = await this.client();
    try {
      const result = await fn(c);
      this.link.reached();
      return result;
    } catch (err) {
      if (err instanceof ComputeError && err.kind === 'unavailable') this.link.unreachable(err.message);
      else this.link.reached(); // the lifecycle answered, with a refusal
      throw err;
    }
  }

  async status(computeId: string): Promise<StatusView> {
    if (computeId !== this.computeId) throw new ComputeError('not_found', 'compute not found');
    return this.view.status();
  }

  /** Answers as /status would right after: the pod's observations on the lifecycle's view. */
  async configure(_computeId: string, spec: ParsedSpec, requestId?: string): Promise<StatusView> {
    return this.view.withObservations(await this.call((c) => c.configure(this.computeId, spec, requestId)));
  }

  async terminate(_computeId: string, mode: TerminateMode, requestId?: string): Promise<TerminateResult> {
    return this.call((c) => c.terminate(this.computeId, mode, requestId));
  }

  async promote(_computeId: string, spec: ParsedSpec, walFlushLsn: string, requestId?: string): Promise<PromoteState> {
    return this.call((c) => c.promote(this.computeId, spec, walFlushLsn, requestId));
  }

  /** From the lifecycle's last report, as /status is. */
  async lfcStates(_computeId: string): Promise<LfcStates> {
    return this.view.current().lfc ?? newLfcStates();
  }

  async prewarmLfc(_computeId: string, fromEndpoint: string | null): Promise<LfcPrewarmState> {
    return this.call((c) => c.prewarmLfc(this.computeId, fromEndpoint));
  }

  async cancelLfcPrewarm(_computeId: string): Promise<LfcPrewarmState> {
    return this.call((c) => c.cancelLfcPrewarm(this.computeId));
  }

  async offloadLfc(_computeId: string): Promise<LfcOffloadState> {
    return this.call((c) => c.offloadLfc(this.computeId));
  }

  async refreshConfiguration(_computeId: string): Promise<boolean> {
    return this.call((c) => c.refreshConfiguration(this.computeId));
  }

  /** The certificate watch's report (§12): reconfigures a running compute to serve the new pair. */
  async certificateChanged(): Promise<boolean> {
    return this.call((c) => c.certificateChanged(this.computeId));
  }

  /** The postmaster watch's report; throws while it cannot be delivered (the watch tries again). */
  async reportPostgresExit(exit: PostmasterExitReport): Promise<void> {
    if (!this.computes) throw new ComputeError('unavailable', 'the compute\'s workflow is not reachable yet');
    await this.call((c) => c.reportPostgresExit(this.computeId, exit));
  }
}
