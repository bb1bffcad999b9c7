// A Replica compute's Postgres made a primary (reference §6.3 /promote): once it has replayed the
// old primary's WAL up to the flush LSN the control plane gives, it is told its safekeepers
// (Neon storage) and promoted, and must then accept writes.
import { parseLsn } from '../compute/lsn';
import { withAdminClient } from './admin-connection';
import { quoteLiteral } from './catalog/sql';

/** Neon's wait for the replay to catch up: 20 more checks, a second apart. */
const CATCH_UP_RETRIES = 20;
const CATCH_UP_PAUSE_MS = 1_000;
const UNDEFINED_OBJECT = '42704';

export interface PromoteInput {
  /** The old primary's WAL flush LSN (X/X) that the replica must have replayed first. */
  walFlushLsn: string;
  /** Neon storage: the safekeepers the new primary writes to (`neon.safekeepers`); null otherwise. */
  safekeepers: string[] | null;
}

export async function promoteReplica(connstr: string, input: PromoteInput, tick: () => void = () => {}): Promise<void> {
  const target = parseLsn(input.walFlushLsn);
  await withAdminClient(connstr, 'promote', async (c) => {
    let replayed: string | null = null;
    for (let i = 0; i <= CATCH_UP_RETRIES; i++) {
      replayed = (await c.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0].lsn;
      if (replayed !== null && parseLsn(replayed) >= target) break;
      tick();
      await new Promise((r) => setTimeout(r, CATCH_UP_PAUSE_MS));
    }
    if (replayed === null || parseLsn(replayed) < target) {
      throw new Error(`didn't catch up with primary in ${CATCH_UP_RETRIES} retries (replayed ${replayed ?? 'nothing'}, primary flushed ${input.walFlushLsn})`);
    }
    if (input.safekeepers !== null) {
      try {
        // ALTER SYSTEM takes no parameters.
        await c.query(`ALTER SYSTEM SET neon.safekeepers = ${quoteLiteral(input.safekeepers.join(','))}`);
        await c.query('SELECT pg_reload_conf()');
      } catch (err) {
        // 42704: a Postgres without the neon extension has no walproposer to tell (test servers);
        // the reconfiguration as a Primary writes neon.safekeepers to postgresql.conf anyway.
        if ((err as { code?: string }).code !== UNDEFINED_OBJECT) throw err;
      }
    }
    const promoted = (await c.query<{ pg_promote: boolean }>('SELECT * FROM pg_promote()')).rows[0].pg_promote;
    if (!promoted) throw new Error('pg_promote() returned false');
  });
  // A new session: the old one may have cached its read-only default.
  const readOnly = await withAdminClient(connstr, 'promote', async (c) => (await c.query<{ transaction_read_only: string }>('SHOW transaction_read_only')).rows[0].transaction_read_only);
  if (readOnly === 'on') throw new Error('replica in read only mode after promotion');
}
