// The pod's view of its compute: the status view the lifecycle last reported to it (the
// reportStatus activity, the answers to the pod's own updates, the memo read at boot), beside what
// the pod observes itself (last_active, a Replica's replication, its Postgres version, whether
// Temporal answers). /status, /metrics and the probes answer from it with no Temporal round trip,
// while Temporal is away too. The newest report is kept in a file beside PGDATA, so that a
// restarted pod answers at once with what its compute was, not `empty`.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { newLifecycleState, podReport, type PodReport } from '../compute/lifecycle-state';
import type { ReplicationView, StaleMark, StatusView } from '../compute/views';
import { log } from '../log';

/** Where a compute's last report is kept: beside its PGDATA, which is wiped on every start. */
export const statusFileFor = (pgdata: string): string => `${pgdata.replace(/\/+$/, '')}.status.json`;

/**
 * The report a pod starts with: the one it kept for this compute, unless that compute has ended (a
 * new lifecycle starts), else a new compute's.
 */
export async function initialReport(computeId: string, processStartTime: string, file: string): Promise<PodReport> {
  try {
    const kept = JSON.parse(await readFile(file, 'utf8')) as PodReport;
    if (kept.view?.compute_id === computeId && kept.view.status !== 'terminated') return kept;
  } catch {
    // none kept, or unreadable: a new compute
  }
  return podReport(newLifecycleState(computeId, processStartTime));
}

/** What the pod observes itself, added to every view it serves. */
export interface Observations {
  lastActive(): string | null;
  replication(): ReplicationView;
  stale(): StaleMark | null;
  /** The PostgreSQL major this pod runs (`v17`). */
  pgVersion: string;
}

export class ComputeView {
  /** Lifecycles the pod has left (it ended their run): their late reports are not taken. */
  private readonly ended = new Set<string>();
  private writing: Promise<void> = Promise.resolve();
  private readonly listeners: ((report: PodReport) => void)[] = [];

  constructor(
    private report: PodReport,
    private readonly observations: Observations,
    private readonly file: string | null,
  ) {}

  /**
   * Takes a report if it is newer than the one held: a later version of the same lifecycle, or a
   * lifecycle the pod has not left.
   */
  take(next: PodReport): void {
    const held = this.report;
    const newer = next.lifecycle === held.lifecycle ? next.version > held.version : !this.ended.has(next.lifecycle);
    if (!newer) return;
    if (held.lifecycle && next.lifecycle !== held.lifecycle) this.ended.add(held.lifecycle);
    this.set(next);
  }

  /**
   * The lifecycle's view read at boot: it replaces what the pod kept (which may be behind), unless a
   * newer report of the same lifecycle has arrived meanwhile.
   */
  takeAtBoot(read: PodReport): void {
    const held = this.report;
    if (read.lifecycle === held.lifecycle && read.version <= held.version) return;
    if (held.lifecycle && read.lifecycle !== held.lifecycle) this.ended.add(held.lifecycle);
    this.set(read);
  }

  /** The pod ended the lifecycle run it held (its Postgres was gone): that run's reports no longer count. */
  leave(lifecycle: string): void {
    if (lifecycle) this.ended.add(lifecycle);
  }

  /** The report as the lifecycle sent it (no observations). */
  current(): PodReport {
    return this.report;
  }

  /** Calls `fn` with the current report and every new one. */
  onReport(fn: (report: PodReport) => void): void {
    this.listeners.push(fn);
    fn(this.report);
  }

  /** The /status body: the lifecycle's view with what the pod observes itself. */
  status(): StatusView {
    return this.withObservations(this.report.view);
  }

  /** A view of the lifecycle's with the pod's observations: last_active, staleness, replication, its Postgres version. */
  withObservations(view: StatusView): StatusView {
    const o = this.observations;
    const lastActive = o.lastActive();
    const stale = o.stale();
    const replica = view.mode === 'replica' && view.status === 'running';
    return {
      ...view,
      pg_version: o.pgVersion,
      ...(lastActive ? { last_active: lastActive } : {}),
      ...(stale ? { stale: { ...stale } } : {}),
      ...(replica ? { replication: o.replication() } : {}),
    };
  }

  private set(report: PodReport): void {
    this.report = report;
    this.persist(report);
    for (const fn of this.listeners) fn(report);
  }

  /** Writes are serialised and atomic (rename): a kill -9 leaves the previous report or the new one. */
  private persist(report: PodReport): void {
    const file = this.file;
    if (!file) return;
    this.writing = this.writing.then(async () => {
      if (report !== this.report) return; // a newer one follows
      try {
        await writeFile(`${file}.tmp`, JSON.stringify(report));
        await rename(`${file}.tmp`, file);
      } catch (err) {
        log('warn', `could not keep the status in ${file}: ${(err as Error).message}`);
      }
    });
  }

  /** Resolves when the last report is on disk (tests, shutdown). */
  flushed(): Promise<void> {
    return this.writing;
  }
}
