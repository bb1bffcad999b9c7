// compute-ctl's own connections to the compute's Postgres (reference §4.7): the --connstr plus
// startup options that a user's ALTER DATABASE … SET cannot override.
import { Client, type ClientConfig } from 'pg';

export function adminUser(connstr: string): string {
  return decodeURIComponent(new URL(connstr).username) || 'cloud_admin';
}

export function adminClientConfig(connstr: string, purpose: string, database?: string): ClientConfig {
  const url = new URL(connstr);
  if (database !== undefined) url.pathname = `/${encodeURIComponent(database)}`;
  const user = adminUser(connstr);
  const ours = `-c role=${user} -c default_transaction_read_only=off -c search_path='' -c statement_timeout=0 -c pgaudit.log=none`;
  const given = url.searchParams.get('options');
  url.searchParams.delete('options');
  return {
    connectionString: url.toString(),
    options: given ? `${ours} ${given}` : ours,
    application_name: `compute_ctl:${purpose}`,
    connectionTimeoutMillis: 10_000,
  };
}

export async function withAdminClient<T>(connstr: string, purpose: string, fn: (c: Client) => Promise<T>, database?: string): Promise<T> {
  const client = new Client(adminClientConfig(connstr, purpose, database));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
