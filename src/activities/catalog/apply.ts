// apply_spec_sql (§5.5): snapshot, plan, execute, phase by phase.
import type { ParsedSpec } from '../../spec/parse';
import { withAdminClient } from '../admin-connection';
import { forEachLimit, runGroup, runPhase } from './execute';
import { DROP_SUBSCRIPTIONS_SQL, planDatabase, planSystem, type PlanOptions } from './plan';
import { readClusterSnapshot, readDatabaseSnapshot } from './snapshot';

export interface ApplyOptions extends PlanOptions {
  connstr: string;
  /** Parallelism of the per-database phases and of database creation (§5.7). */
  concurrency: number;
}

/** Applies the spec's roles, databases and per-database settings; returns the statements run. */
export async function applySpecSql(parsed: ParsedSpec, opts: ApplyOptions): Promise<number> {
  const { connstr, concurrency } = opts;
  return withAdminClient(connstr, 'apply_config', async (client) => {
    const snap = await readClusterSnapshot(client, parsed.timelineId ?? '');
    const plan = planSystem(parsed, snap, opts);
    let count = 0;

    // 0. A database with an active subscription cannot be dropped.
    await forEachLimit(plan.preDrop, concurrency, async (db) => {
      try {
        await withAdminClient(connstr, 'apply_config', async (c) => {
          if ((await readDatabaseSnapshot(c, opts.priv)).subscriptions > 0) count += await runGroup(c, [DROP_SUBSCRIPTIONS_SQL]);
        }, db);
      } catch (err) {
        if (!/does not exist/.test((err as Error).message)) throw err;
      }
    });

    for (const phase of plan.before) count += await runPhase(client, phase, connstr, concurrency);

    // 9. Per-database phases, each in its own database.
    await forEachLimit(plan.databases, concurrency, (target) =>
      withAdminClient(connstr, 'apply_config', async (c) => {
        const statements = planDatabase(target, await readDatabaseSnapshot(c, opts.priv), plan, opts, snap.serverVersionNum);
        count += await runGroup(c, statements);
      }, target.name),
    );

    for (const phase of plan.after) count += await runPhase(client, phase, connstr, concurrency);
    return count;
  });
}
