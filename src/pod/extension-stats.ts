// The installed-extensions statistics of a Primary compute (reference §8.4): collected once when it
// first runs, then every 2 × 3600 s (Neon's interval when the spec sets no suspend timeout; the spec
// is not held by the process, so its suspend_timeout_seconds is not used), for /metrics.
import type { ComputeStatus } from '../compute/status';
import { installedExtensions, type InstalledExtension } from '../postgres/installed-extensions';
import { log } from '../log';

const INTERVAL_MS = 2 * 3600 * 1000;

export class ExtensionStats {
  current: InstalledExtension[] = [];
  private timer: NodeJS.Timeout | null = null;
  private collecting = false;
  private stopped = false;

  constructor(
    private readonly connstr: string,
    private readonly intervalMs = INTERVAL_MS,
  ) {}

  /** Called on every status the process learns: the first `running` of a Primary starts the schedule. */
  observe(status: ComputeStatus, mode: string | null): void {
    if (this.stopped || this.timer || this.collecting || status !== 'running' || mode !== 'primary') return;
    void this.collect();
  }

  private async collect(): Promise<void> {
    this.collecting = true;
    try {
      this.current = await installedExtensions(this.connstr);
      log('info', `[NEON_EXT_STAT] ${JSON.stringify(this.current)}`);
    } catch (err) {
      log('warn', `could not collect the installed extensions: ${(err as Error).message}`);
    } finally {
      this.collecting = false;
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.collect(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
