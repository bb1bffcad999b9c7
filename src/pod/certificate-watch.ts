// The TLS certificate watcher (reference §12): the pod hashes compute_ctl_config.tls's certificate
// every interval (60 s) and, when it changed, asks the lifecycle to reconfigure the compute, which
// copies the new pair into PGDATA and reloads Postgres: a computeReconfigure workflow an operator
// sees. Nothing reaches Temporal while the certificate stays the same.
import { log } from '../log';
import { certificateHash } from '../postgres/tls';

export class CertificateWatch {
  private timer: NodeJS.Timeout | null = null;
  private last: string | null = null;

  constructor(
    private readonly certPath: string,
    private readonly intervalMs: number,
    private readonly onChange: () => Promise<unknown>,
  ) {}

  async start(): Promise<void> {
    this.last = await certificateHash(this.certPath);
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const now = await certificateHash(this.certPath);
    if (now !== null && now !== this.last) {
      try {
        log('info', `the TLS certificate ${this.certPath} changed: reconfiguring the compute to serve it`);
        await this.onChange();
        this.last = now;
      } catch (err) {
        // Tried again at the next check.
        log('warn', `the TLS certificate changed but the compute could not be reconfigured: ${(err as Error).message}`);
      }
    }
    if (this.timer) this.schedule();
  }
}
