// The compute monitor's look at Postgres (reference §8.1): is anyone but compute-ctl using it, and
// (a Replica) is it receiving WAL? One query per tick on one kept connection.
import type { Client } from 'pg';
import { adminClientConfig, adminUser } from './admin-connection';
import { postmasterState } from './postmaster';

/**
 * §8.1 steps 2–5 in one round trip. Client backends other than this one and the admin user's
 * (compute-ctl's own sessions, cloud_admin): any not idle means active now, else the newest idle
 * one's state change; walsenders other than the walproposer, running subscription workers and
 * autovacuum workers mean active now.
 */
export const ACTIVITY_PROBE = `
SELECT
  (SELECT count(*) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
      AND usename IS DISTINCT FROM 'cloud_admin' AND usename IS DISTINCT FROM $1
      AND state IS DISTINCT FROM 'idle')::int AS busy,
  (SELECT max(state_change) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
      AND usename IS DISTINCT FROM 'cloud_admin' AND usename IS DISTINCT FROM $1
      AND state = 'idle') AS idle_since,
  (SELECT count(*) FROM pg_stat_replication WHERE application_name IS DISTINCT FROM 'walproposer')::int AS replication,
  (SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL)::int AS subscriptions,
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker')::int AS autovacuum,
  (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS wal_receiver`;

interface ProbeRow {
  busy: number;
  idle_since: Date | null;
  replication: number;
  subscriptions: number;
  autovacuum: number;
  wal_receiver: string | null;
}

export interface ActivitySample {
  /** When the compute was last seen in use, per this probe (null: nobody yet). */
  lastSeen: Date | null;
  /** A standby's WAL receiver state (`streaming`, …), or null when none runs. */
  walReceiver: string | null;
}

/** The time the compute was last seen in use, per one probe: now, an idle session's last change, or null. */
export function lastSeenActive(row: ProbeRow, now: Date): Date | null {
  if (row.busy > 0 || row.replication > 0 || row.subscriptions > 0 || row.autovacuum > 0) return now;
  return row.idle_since;
}

/** The monitor's one connection (`compute_ctl:compute_monitor`), opened on demand and after a failure. */
export class ActivityProbe {
  private client: Client | null = null;
  private readonly user: string;

  constructor(
    private readonly connstr: string,
    private readonly pgdata: string,
  ) {
    this.user = adminUser(connstr);
  }

  async probe(now: Date): Promise<ActivitySample> {
    try {
      // Shutting down (postmaster.pid says `stopping`): let go at once, or a smart shutdown would
      // wait for this session forever.
      if ((await postmasterState(this.pgdata)) === null) throw new Error('Postgres is not accepting connections (postmaster.pid)');
      if (!this.client) {
        const { Client } = await import('pg');
        const client = new Client({ ...adminClientConfig(this.connstr, 'compute_monitor'), connectionTimeoutMillis: 2_000 });
        client.on('error', () => undefined);
        await client.connect();
        this.client = client;
      }
      const { rows } = await this.client.query<ProbeRow>(ACTIVITY_PROBE, [this.user]);
      return { lastSeen: lastSeenActive(rows[0], now), walReceiver: rows[0].wal_receiver };
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
