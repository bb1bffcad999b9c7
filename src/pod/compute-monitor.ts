// The compute monitor of the in-pod process (reference §8.1): every 500 ms, while the compute runs,
// it asks Postgres whether anyone uses it, moving `last_active` forward, and counts the time
// Postgres did not answer (the downtime metrics). It lives in the process, not in the workflow: two
// ticks a second must not grow the workflow's history. /status and /metrics read it.
import type { ComputeStatus } from '../compute/status';
import type { ReplicationView } from '../compute/views';
import type { ActivitySample } from '../postgres/activity-probe';
import { log } from '../log';

/** One look at Postgres; throws when Postgres does not answer. */
export interface Probe {
  probe(now: Date): Promise<ActivitySample>;
  close(): Promise<void>;
}

const TICK_MS = 500;

/** While the compute is in one of these, Postgres is meant to be up and serving. */
const WATCHED: ReadonlySet<ComputeStatus> = new Set([
  'running',
  'configuration_pending',
  'configuration',
  'refresh_configuration_pending',
  'refresh_configuration',
]);

export class ComputeMonitor {
  private lastActiveMs: number | null = null;
  private lastUp = Date.now();
  private lastCheck = Date.now();
  currentDowntimeMs = 0;
  totalDowntimeMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private said = '';
  private walReceiver: string | null = null;
  private notStreamingSince: number | null = null;

  constructor(
    private readonly probe: Probe,
    private readonly status: () => ComputeStatus,
    private readonly tickMs = TICK_MS,
  ) {}

  /** RFC 3339, as Neon's /status has it; null until someone used the compute. */
  lastActive(): string | null {
    return this.lastActiveMs === null ? null : new Date(this.lastActiveMs).toISOString();
  }

  /** A Replica's WAL stream as last seen: whether its upstream feeds it, since when not. */
  replication(): ReplicationView {
    return {
      wal_receiver: this.walReceiver,
      not_streaming_since: this.notStreamingSince === null ? null : new Date(this.notStreamingSince).toISOString(),
    };
  }

  start(): void {
    const loop = async () => {
      await this.tick();
      if (this.timer) this.timer = setTimeout(loop, this.tickMs);
    };
    this.timer = setTimeout(loop, this.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.probe.close();
  }

  async tick(now = new Date()): Promise<void> {
    if (!WATCHED.has(this.status())) {
      // Not started yet, or failed or terminating: nothing to watch, no downtime to count.
      await this.probe.close();
      this.lastUp = this.lastCheck = now.getTime();
      this.currentDowntimeMs = 0;
      return;
    }
    try {
      const { lastSeen: seen, walReceiver } = await this.probe.probe(now);
      // Only forward: an idle session's older state change never moves it back.
      if (seen && (this.lastActiveMs === null || seen.getTime() > this.lastActiveMs)) this.lastActiveMs = seen.getTime();
      this.walReceiver = walReceiver;
      if (walReceiver === 'streaming') this.notStreamingSince = null;
      else this.notStreamingSince ??= now.getTime();
      this.lastUp = this.lastCheck = now.getTime();
      this.currentDowntimeMs = 0;
      this.said = '';
    } catch (err) {
      this.currentDowntimeMs = now.getTime() - this.lastUp;
      this.totalDowntimeMs += now.getTime() - this.lastCheck;
      this.lastCheck = now.getTime();
      const reason = (err as Error).message;
      if (reason !== this.said) {
        log('warn', `compute monitor: Postgres did not answer: ${reason}`, {
          downtime_info: { total_ms: this.totalDowntimeMs, current_ms: this.currentDowntimeMs, last_up: new Date(this.lastUp).toISOString() },
        });
      }
      this.said = reason;
    }
  }
}
