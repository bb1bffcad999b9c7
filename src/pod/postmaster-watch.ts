// The pod watches its compute's postmaster itself: no activity runs for as long as Postgres does, so
// an idle compute costs Temporal nothing. When the postmaster exits, the lifecycle is told with an
// update within a second (at once for one this pod spawned, within a poll for one it adopted after
// a restart). While Temporal is away the report waits and goes when Temporal answers; the update ID
// names the postmaster, so it counts once. The lifecycle decides whether the exit fails the compute
// (a postmaster it stopped itself, or an earlier start's, does not).
import type { PostmasterExitReport } from '../compute/lifecycle-state';
import { log } from '../log';
import { livePostmasterPid, onPostmasterUp, postmasterExit } from '../postgres/postmaster';

const RETRY_MS = { first: 250, max: 5_000 };

export class PostmasterWatch {
  private readonly watched = new Set<number>();
  private readonly abort = new AbortController();
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly pgdata: string,
    private readonly deliver: (report: PostmasterExitReport) => Promise<void>,
  ) {}

  /** Watches every postmaster started or adopted from now on, and the one running on PGDATA now, if any. */
  async start(): Promise<void> {
    this.unsubscribe = onPostmasterUp((pgdata, pid) => {
      if (pgdata === this.pgdata) this.watch(pid);
    });
    const running = await livePostmasterPid(this.pgdata);
    if (running !== null) this.watch(running);
  }

  stop(): void {
    this.unsubscribe();
    this.abort.abort();
  }

  private watch(pid: number): void {
    if (this.watched.has(pid)) return;
    this.watched.add(pid);
    postmasterExit(this.pgdata, pid, this.abort.signal).then(
      (exit) => void this.report({ pid, exit }),
      () => undefined, // the pod is stopping
    );
  }

  private async report(report: PostmasterExitReport): Promise<void> {
    this.watched.delete(report.pid);
    let delay = RETRY_MS.first;
    let said = '';
    while (!this.abort.signal.aborted) {
      try {
        await this.deliver(report);
        if (said) log('info', `the exit of postmaster ${report.pid} reached the lifecycle`);
        return;
      } catch (err) {
        const reason = (err as Error).message;
        if (reason !== said) log('warn', `cannot report the exit of postmaster ${report.pid} yet, retrying: ${reason}`);
        said = reason;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, RETRY_MS.max);
      }
    }
  }
}
