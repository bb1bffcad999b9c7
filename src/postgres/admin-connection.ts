// compute-ctl's own connections to the compute's Postgres (reference §4.7): the --connstr plus
// startup options that a user's ALTER DATABASE … SET cannot override.
import type { Client, ClientConfig } from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';

export function adminUser(connstr: string): string {
  return parseIntoClientConfig(connstr).user || 'cloud_admin';
}

/** The system database: the --connstr database, most of compute-ctl's work happens there. */
export function adminDatabase(connstr: string): string {
  return parseIntoClientConfig(connstr).database || 'postgres';
}

export function adminClientConfig(connstr: string, purpose: string, database?: string): ClientConfig {
  // A config object, not a URL: database names may hold any character.
  const base = parseIntoClientConfig(connstr);
  const user = base.user || 'cloud_admin';
  const ours = `-c role=${user} -c default_transaction_read_only=off -c search_path='' -c statement_timeout=0 -c pgaudit.log=none`;
  return {
    ...base,
    user,
    database: database ?? base.database,
    options: base.options ? `${ours} ${base.options}` : ours,
    application_name: `compute_ctl:${purpose}`,
    connectionTimeoutMillis: 10_000,
  };
}

export async function withAdminClient<T>(connstr: string, purpose: string, fn: (c: Client) => Promise<T>, database?: string): Promise<T> {
  const client = await connectAdmin(connstr, purpose, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * withAdminClient for one of many databases visited in turn (the per-database phase): the close is
 * not waited for, so the backend's exit (a few ms of its own) overlaps the next visit's connection
 * instead of adding to it. Not for a database about to be dropped, which must see its session gone.
 */
export async function visitDatabase<T>(connstr: string, purpose: string, database: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connectAdmin(connstr, purpose, database);
  try {
    return await fn(client);
  } finally {
    void client.end().catch(() => {});
  }
}

async function connectAdmin(connstr: string, purpose: string, database?: string): Promise<Client> {
  // Loaded on first use: the worker's HTTP API listens before anything talks to Postgres.
  const { Client } = await import('pg');
  const client = new Client(adminClientConfig(connstr, purpose, database));
  // A connection that drops (Postgres stopped, crashed) fails the pending query; without a listener
  // the client's 'error' event would also crash the whole worker.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
