// LFC prewarm and offload (reference §6.3, §8.4) as the lifecycle workflow runs them: beside its
// main loop, at most one prewarm and one offload at a time, each an activity on the compute's pod.
// The states are the lifecycle's (so /promote can refuse while a prewarm runs, and the pod serves
// GET /lfc/* from its reports); the periodic offload is a timer of this workflow.
import * as wf from '@temporalio/workflow';
import type { ParsedSpec } from '../compute-spec/parse';
import type { LifecycleState } from '../compute/lifecycle-state';
import type { LfcOffloadState, LfcPrewarmState } from '../compute/views';
import type { ComputeSteps } from './activity-proxies';
import { errorText } from './errors';

/** The prewarm states after which a periodic offload may run (§8.4): never over a partial cache. */
const OFFLOAD_AFTER: readonly LfcPrewarmState['status'][] = ['completed', 'not_prewarmed', 'skipped'];

export class LfcOperations {
  private prewarmScope: wf.CancellationScope | null = null;
  private offloading = false;
  private periodic: wf.CancellationScope | null = null;

  constructor(
    private readonly state: LifecycleState,
    private readonly steps: ComputeSteps,
    /** Publishes the lifecycle's state (memo, search attributes, the pod's report). */
    private readonly publish: () => void,
  ) {}

  /** A prewarm or an offload is running: the lifecycle does not continue-as-new under it. */
  busy(): boolean {
    return this.prewarmScope !== null || this.offloading;
  }

  prewarming(): boolean {
    return this.prewarmScope !== null;
  }

  offloadRunning(): boolean {
    return this.offloading;
  }

  /** Starts a prewarm in the background (the caller checked that none runs). */
  prewarm(spec: ParsedSpec, fromEndpoint: string | null): void {
    const scope = new wf.CancellationScope();
    this.prewarmScope = scope;
    // The states of this Postgres: a new start replaces them, and a late end must not land there.
    const states = this.state.lfc;
    states.prewarm = { status: 'prewarming' };
    this.publish();
    void scope
      .run(() => this.steps.prewarmLfc({ spec, fromEndpoint }))
      .then(
        (done): LfcPrewarmState => done,
        // Cancelled by DELETE or stop(): this prewarm's own scope says so.
        (err: unknown): LfcPrewarmState => (scope.consideredCancelled ? { status: 'cancelled' } : { status: 'failed', error: errorText(err) }),
      )
      .then((next) => {
        if (this.prewarmScope === scope) this.prewarmScope = null;
        states.prewarm = next;
        this.publish();
      });
  }

  /** DELETE /lfc/prewarm: the running prewarm stops (what it read stays cached); nothing when none runs. */
  cancelPrewarm(): void {
    this.prewarmScope?.cancel();
  }

  /**
   * Uploads the cache's state (the caller checked that no offload runs). A periodic one publishes
   * only what changes the status the pod last saw: an idle compute's rounds cost the history the
   * timer and the activity, not a report each.
   */
  async offload(spec: ParsedSpec, periodic: boolean): Promise<void> {
    this.offloading = true;
    const states = this.state.lfc;
    const before = states.offload.status;
    const version = this.state.version;
    states.offload = { status: 'offloading' };
    if (!periodic) this.publish();
    let next: LfcOffloadState;
    try {
      next = await this.steps.offloadLfc(spec);
    } catch (err) {
      next = { status: 'failed', error: errorText(err) };
    }
    this.offloading = false;
    states.offload = next;
    if (!periodic || next.status !== before || this.state.version !== version) this.publish();
  }

  /**
   * §8.4: an offload every offload_lfc_interval_seconds of the current spec while Postgres runs,
   * unless one is running or the cache is being (or failed to be) prewarmed. A spec without the
   * interval ends the rounds; a reconfiguration that sets it calls this again.
   */
  startPeriodicOffload(currentSpec: () => ParsedSpec | null): void {
    const interval = () => currentSpec()?.spec.offload_lfc_interval_seconds ?? null;
    if (this.periodic || !interval()) return;
    const scope = new wf.CancellationScope();
    this.periodic = scope;
    void scope
      .run(async () => {
        for (let seconds = interval(); seconds; seconds = interval()) {
          await wf.sleep(seconds * 1000);
          const spec = currentSpec();
          if (spec && !this.offloading && OFFLOAD_AFTER.includes(this.state.lfc.prewarm.status)) await this.offload(spec, true);
        }
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.periodic === scope) this.periodic = null;
      });
  }

  /** Postgres stopped (or is being stopped): no more offloads, and a running prewarm is cancelled. */
  stop(): void {
    this.periodic?.cancel();
    this.periodic = null;
    this.cancelPrewarm();
  }
}
