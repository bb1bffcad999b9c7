// Neon's storage: safekeepers for the start LSN, the pageserver for basebackups and LSN leases.
import { ComputeFailure, FAILURE } from '../../compute/failures';
import type { ParsedSpec } from '../../compute-spec/parse';
import { shardKey } from '../../compute-spec/parse';
import type { PageserverConnectionInfo } from '../../compute-spec/schema';
import type { StorageBackend, StorageContext } from '../types';
import { clearForBasebackup } from '../clear-pgdata';
import { basebackupQuery, fetchBasebackup, leaseLsn, shardZeroUrl, tenantShardId } from './pageserver';
import { checkSafekeepersSynced, syncSafekeepers } from './safekeepers';

function neon(parsed: ParsedSpec): { pageserver: PageserverConnectionInfo; safekeepers: string[]; tenant: string; timeline: string } {
  if (parsed.storage.type !== 'neon' || !parsed.tenantId || !parsed.timelineId) throw new Error('not a neon storage spec');
  return { ...parsed.storage, tenant: parsed.tenantId, timeline: parsed.timelineId };
}

const token = (parsed: ParsedSpec) => parsed.spec.storage_auth_token ?? null;

export const neonStorage: StorageBackend = {
  async primaryStartLsn(parsed, ctx) {
    const { safekeepers, tenant, timeline } = neon(parsed);
    const t0 = Date.now();
    const synced = await checkSafekeepersSynced(safekeepers, tenant, timeline, token(parsed));
    const checkMs = Date.now() - t0;
    if (synced !== null) return { lsn: synced, checkMs, syncMs: 0 };
    const t1 = Date.now();
    const lsn = await syncSafekeepers(ctx.postgres, ctx.pgdata, token(parsed), ctx.runAs);
    return { lsn, checkMs, syncMs: Date.now() - t1 };
  },

  async basebackup(parsed, lsn, ctx) {
    const { pageserver, tenant, timeline } = neon(parsed);
    let url: string;
    try {
      url = shardZeroUrl(pageserver);
    } catch (err) {
      throw ComputeFailure.permanent(FAILURE.basebackupFailed, (err as Error).message);
    }
    await clearForBasebackup(ctx.pgdata);
    return fetchBasebackup({
      url,
      token: token(parsed),
      query: basebackupQuery(tenant, timeline, lsn, parsed.mode),
      mode: parsed.mode,
      pgdata: ctx.pgdata,
      runAs: ctx.runAs,
    });
  },

  /** §9: after Postgres stopped, a Primary syncs the safekeepers once more; that LSN is reported. */
  async finalLsn(parsed, ctx) {
    if (parsed.mode.type !== 'primary') return null;
    return syncSafekeepers(ctx.postgres, ctx.pgdata, token(parsed), ctx.runAs);
  },
};

export type LeaseOutcome = { validUntilMs: number } | { refused: true };

/** §8.2: a lease on every shard and every listed pageserver; the earliest expiry, or refused if any refused. */
export async function acquireLeases(parsed: ParsedSpec, lsn: string): Promise<LeaseOutcome> {
  const { pageserver, tenant, timeline } = neon(parsed);
  let earliest = Infinity;
  for (let shard = 0; shard < Math.max(1, pageserver.shard_count); shard++) {
    const servers = pageserver.shards[shardKey(shard, pageserver.shard_count)]?.pageservers ?? [];
    for (const ps of servers) {
      if (!ps.libpq_url) continue;
      const until = await leaseLsn(ps.libpq_url, token(parsed), tenantShardId(tenant, pageserver, shard), timeline, lsn);
      if (until === null) return { refused: true };
      earliest = Math.min(earliest, until);
    }
  }
  if (earliest === Infinity) throw new Error('no pageserver with a libpq_url to lease the LSN from');
  return { validUntilMs: earliest };
}
