// Re-emits Postgres' stderr on ours, one line per message prefixed `PG:` (reference §1): a new
// message starts at a line beginning with a timestamp; continuation lines are joined with U+200B;
// the buffer is flushed after 100 ms of silence or at EOF. The last lines are kept for error texts.
import type { Readable } from 'node:stream';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/;
const FLUSH_MS = 100;

export class PgLogForwarder {
  private pending: string[] = [];
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private readonly recent: string[] = [];

  constructor(
    stream: Readable,
    private readonly write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
    private readonly keep = 20,
  ) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => this.push(chunk));
    stream.on('end', () => {
      if (this.partial) this.line(this.partial);
      this.partial = '';
      this.flush();
    });
  }

  /** The last messages Postgres printed (newest last). */
  tail(): string {
    return this.recent.join('\n');
  }

  private push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const l of parts) this.line(l);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  private line(l: string): void {
    if (TIMESTAMP.test(l)) this.flush();
    this.pending.push(l);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const message = this.pending.join('\u200b');
    this.pending = [];
    this.recent.push(message);
    if (this.recent.length > this.keep) this.recent.shift();
    this.write(`PG:${message}`);
  }
}
