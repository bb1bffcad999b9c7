// A base backup over the replication protocol (BASE_BACKUP, PostgreSQL 15 and newer), for a server
// that has no pg_basebackup of its version on the machine (the embedded builds ship none): what
// `pg_basebackup -X fetch -c fast --no-manifest` does for a cluster without tablespaces, the tar
// stream extracted as it arrives.
import { Client, type ClientConfig } from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import * as tar from 'tar';
import type { RunAs } from '../postgres/os';

interface Message {
  fields?: (string | null)[];
  chunk?: Buffer;
}

interface PgConnection {
  query(text: string): void;
  stream: { pause(): void; resume(): void };
}

/**
 * The BASE_BACKUP exchange as a query of node-postgres (a "submittable"): result sets for the start
 * position and the tablespaces, one CopyOut of typed messages (`n` a new archive, `d` its data, `p`
 * progress), the end position.
 */
class BaseBackupQuery {
  private columns: string[] = [];
  private unpack: tar.Unpack | null = null;
  private archives = 0;
  private paused = false;
  private failure: Error | null = null;
  readonly positions: string[] = [];
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (err: Error) => void };

  constructor(
    private readonly dir: string,
    private readonly runAs: RunAs | null,
  ) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.query("BASE_BACKUP (LABEL 'compute_ctl', CHECKPOINT 'fast', WAL true, WAIT false, MANIFEST 'no')");
  }

  private connection: PgConnection | null = null;

  handleRowDescription(msg: { fields: { name: string }[] }): void {
    this.columns = msg.fields.map((f) => f.name);
  }

  handleDataRow(msg: Message): void {
    const row = msg.fields ?? [];
    if (this.columns[0] === 'recptr') this.positions.push(String(row[0]));
    // The base directory's row has no oid; any other is a tablespace we would not copy.
    if (this.columns[0] === 'spcoid' && row[0] !== null) this.fail(new Error(`the upstream has a tablespace (${row[1]}): not supported`));
  }

  handleCopyData(msg: Message): void {
    const chunk = msg.chunk!;
    switch (String.fromCharCode(chunk[0])) {
      case 'n':
        if (++this.archives > 1 || this.failure) return this.fail(new Error('the upstream sent more than one archive'));
        this.unpack = new tar.Unpack({ cwd: this.dir, strict: true, ...(this.runAs ? { uid: this.runAs.uid, gid: this.runAs.gid } : {}) });
        this.unpack.on('error', (err: Error) => this.fail(err));
        return;
      case 'd':
        if (!this.unpack || this.failure) return;
        // A copy: the protocol parser reuses its receive buffer, and the unpacker may hold on to data.
        if (!this.unpack.write(Buffer.from(chunk.subarray(1))) && !this.paused) {
          // Back pressure: stop reading from the server until the files are written.
          this.paused = true;
          this.connection?.stream.pause();
          this.unpack.once('drain', () => {
            this.paused = false;
            this.connection?.stream.resume();
          });
        }
        return;
      default:
        return; // 'p': progress
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
  }

  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {
    this.fail(new Error('unexpected CopyIn from the upstream'));
  }

  handleError(err: Error): void {
    this.fail(err);
  }

  handleReadyForQuery(): void {
    const unpack = this.unpack;
    if (this.failure) {
      unpack?.abort(this.failure);
      return this.settle.reject(this.failure);
    }
    if (!unpack) return this.settle.reject(new Error('the upstream sent no archive'));
    unpack.once('close', () => (this.failure ? this.settle.reject(this.failure) : this.settle.resolve()));
    unpack.end();
  }
}

/** Copies the upstream at `connstring` into `dir` (which must exist); returns the start and end LSNs. */
export async function baseBackup(connstring: string, dir: string, runAs: RunAs | null): Promise<{ start: string; end: string }> {
  const config = { ...parseIntoClientConfig(connstring), replication: true, application_name: 'compute_ctl' } as ClientConfig;
  const client = new Client(config);
  client.on('error', () => undefined);
  await client.connect();
  try {
    const query = new BaseBackupQuery(dir, runAs);
    client.query(query as unknown as Parameters<Client['query']>[0]);
    await query.done;
    return { start: query.positions[0], end: query.positions.at(-1)! };
  } finally {
    await client.end().catch(() => undefined);
  }
}
