// The in-pod process's own reads: the compute's status as the lifecycle workflow last reported it
// (through a sink, src/workflows/sinks.ts), so that /status and /metrics cost no Temporal round trip
// and answer before Temporal is reached and while it is away. The last view is kept in a small file
// beside PGDATA, so that a restarted worker answers at once with what its compute was, not `empty`.
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { InjectedSinks } from '@temporalio/worker';
import { lifecycleWorkflowId } from '../compute/ids';
import { ComputeError } from '../compute/failures';
import { newLifecycleState, statusView } from '../compute/lifecycle-state';
import type { PromoteState, ReplicationView, StaleMark, StatusView, TerminateMode, TerminateResult } from '../compute/status';
import type { ParsedSpec } from '../compute-spec/parse';
import type { ComputeSinks } from '../workflows/sinks';
import type { ComputeClient, ComputeOperations } from '../client';
import { log } from '../log';

/** How long /configure and /terminate wait for the compute's workflow before answering 503. */
const READY_WAIT_MS = 5_000;

/** Where a compute's last status view is kept: beside its PGDATA, which is wiped on every start. */
export const statusFileFor = (pgdata: string): string => `${pgdata.replace(/\/+$/, '')}.status.json`;

/**
 * The view a worker starts with: the one it kept for this compute, unless that compute has ended
 * (a new lifecycle starts), else a new compute's.
 */
export async function initialView(computeId: string, processStartTime: string, file: string): Promise<StatusView> {
  try {
    const kept = JSON.parse(await readFile(file, 'utf8')) as StatusView;
    if (kept.compute_id === computeId && kept.status !== 'terminated') return kept;
  } catch {
    // none kept, or unreadable: a new compute
  }
  return statusView(newLifecycleState(computeId, processStartTime));
}

export class StatusCache implements ComputeOperations {
  private computes: ComputeClient | null = null;
  private readonly ready: Promise<ComputeClient>;
  private resolveReady!: (c: ComputeClient) => void;
  /** Set while Temporal does not answer (at boot, or later): the view may be behind. */
  private staleMark: StaleMark | null = null;
  private writing: Promise<void> = Promise.resolve();
  /** The workflow has reported through the sink (its view beats the memo's). */
  private reported = false;
  /** `last_active` is the process's own observation (the compute monitor), not the workflow's. */
  private lastActive: () => string | null = () => null;
  private replication: (() => ReplicationView) | null = null;
  private readonly listeners: ((view: StatusView) => void)[] = [];

  constructor(
    private readonly computeId: string,
    private view: StatusView,
    private readonly file: string | null,
  ) {
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /** The sinks to give the worker: the lifecycle workflow of this compute reports here. */
  sinks(): InjectedSinks<ComputeSinks> {
    const workflowId = lifecycleWorkflowId(this.computeId);
    return {
      compute: {
        status: {
          fn: (info, view) => {
            if (info.workflowId !== workflowId) return;
            this.reported = true;
            this.set(view);
          },
          // A restarted worker learns the status again while it replays the history.
          callDuringReplay: true,
        },
      },
    };
  }

  /** The lifecycle workflow exists: operations go to it from now on. */
  attach(computes: ComputeClient): void {
    this.computes = computes;
    this.resolveReady(computes);
  }

  /** The status as last known here (no Temporal call). */
  currentStatus(): StatusView['status'] {
    return this.view.status;
  }

  /** Where `last_active` comes from (the compute monitor, which ticks twice a second outside the workflow). */
  lastActiveFrom(fn: () => string | null): void {
    this.lastActive = fn;
  }

  /** Where a Replica's `replication` comes from (the compute monitor as well). */
  replicationFrom(fn: () => ReplicationView): void {
    this.replication = fn;
  }

  /** Calls `fn` with the current view and with every new one. */
  onView(fn: (view: StatusView) => void): void {
    this.listeners.push(fn);
    fn(this.view);
  }

  /** Temporal did not answer the process's last call: /status says so, operations fail fast. */
  temporalUnreachable(reason: string): void {
    if (this.staleMark) this.staleMark.reason = reason;
    else {
      this.staleMark = { since: new Date().toISOString(), reason };
      log('warn', `Temporal does not answer (${reason}): serving the last known status, refusing operations until it does`);
    }
  }

  temporalReachable(): void {
    if (this.staleMark) log('info', `Temporal answers again (unreachable since ${this.staleMark.since})`);
    this.staleMark = null;
  }

  stale(): StaleMark | null {
    return this.staleMark;
  }

  /** Takes the memo's view (read with describe(), no worker needed) while the workflow has not reported. */
  seed(memo: StatusView | null): void {
    if (memo && !this.reported) this.set(memo);
  }

  private set(view: StatusView): void {
    if (JSON.stringify(view) === JSON.stringify(this.view)) return;
    this.view = view;
    this.persist(view);
    for (const fn of this.listeners) fn(view);
  }

  /** Writes are serialised and atomic (rename): a kill -9 leaves the previous view or the new one. */
  private persist(view: StatusView): void {
    const file = this.file;
    if (!file) return;
    this.writing = this.writing.then(async () => {
      if (view !== this.view) return; // a newer view follows
      try {
        await writeFile(`${file}.tmp`, JSON.stringify(view));
        await rename(`${file}.tmp`, file);
      } catch (err) {
        log('warn', `could not keep the status in ${file}: ${(err as Error).message}`);
      }
    });
  }

  /** Resolves when the last view is on disk (tests, shutdown). */
  flushed(): Promise<void> {
    return this.writing;
  }

  private async client(): Promise<ComputeClient> {
    if (this.computes && this.staleMark) {
      throw new ComputeError('unavailable', `Temporal is unreachable since ${this.staleMark.since} (${this.staleMark.reason}); the compute keeps running, try again later`);
    }
    if (this.computes) return this.computes;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), READY_WAIT_MS)));
    const c = await Promise.race([this.ready, timeout]).finally(() => clearTimeout(timer));
    if (!c) throw new ComputeError('unavailable', `the compute's workflow is not reachable yet: ${this.staleMark?.reason ?? 'connecting to Temporal'}`);
    return c;
  }

  async status(computeId: string): Promise<StatusView> {
    if (computeId !== this.computeId) return (await this.client()).status(computeId);
    return this.withObservations(this.view);
  }

  /** The PostgreSQL major this process runs (`v17`), shown in every view. */
  pgVersion: string | null = null;

  /** A view of the workflow's with what this process observes itself: last_active, staleness, replication, its Postgres version. */
  private withObservations(view: StatusView): StatusView {
    const lastActive = this.lastActive();
    const replica = view.mode === 'replica' && view.status === 'running' && this.replication;
    if (!lastActive && !this.staleMark && !replica && !this.pgVersion) return view;
    return {
      ...view,
      ...(this.pgVersion ? { pg_version: this.pgVersion } : {}),
      ...(lastActive ? { last_active: lastActive } : {}),
      ...(this.staleMark ? { stale: { ...this.staleMark } } : {}),
      ...(replica ? { replication: this.replication!() } : {}),
    };
  }

  /** Answers as /status would right after: the same observations on the workflow's view. */
  async configure(computeId: string, spec: ParsedSpec, requestId?: string): Promise<StatusView> {
    const view = await (await this.client()).configure(computeId, spec, requestId);
    return computeId === this.computeId ? this.withObservations(view) : view;
  }

  async terminate(computeId: string, mode: TerminateMode, requestId?: string): Promise<TerminateResult> {
    return (await this.client()).terminate(computeId, mode, requestId);
  }

  async promote(computeId: string, spec: ParsedSpec, walFlushLsn: string, requestId?: string): Promise<PromoteState> {
    return (await this.client()).promote(computeId, spec, walFlushLsn, requestId);
  }

  async refreshConfiguration(computeId: string): Promise<boolean> {
    return (await this.client()).refreshConfiguration(computeId);
  }
}
