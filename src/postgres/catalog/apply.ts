// apply_spec_sql (§5.5): snapshot, plan, then the planned phases in order.
import { ComputeFailure, FAILURE } from '../../compute/failures';
import type { ParsedSpec } from '../../compute-spec/parse';
import { visitDatabase, withAdminClient } from '../admin-connection';
import { forEachLimit, runGroup, runPhase } from './execute';
import { DROP_SUBSCRIPTIONS } from './do-blocks';
import { planCatalog, planDatabase, type PlannedPhase, type PlanOptions } from './plan';
import { readClusterSnapshot, readDatabaseSnapshot } from './snapshot';

export interface ApplyOptions extends PlanOptions {
  connstr: string;
  /** Parallelism of the per-database phases and of database creation (§5.7). */
  concurrency: number;
}

export interface ApplyResult {
  statements: number;
  /** Milliseconds per phase, for the activity's result and the benchmark. */
  phases: { name: string; ms: number }[];
}

/**
 * An error Postgres answered (it has a SQLSTATE) will be answered again: a permanent failure.
 * Connection errors (class 08, admin shutdown 57P) may heal and stay as they are.
 */
function classified(err: unknown): unknown {
  const code = (err as { code?: string }).code ?? '';
  if (/^[0-9A-Z]{5}$/.test(code) && !/^(08|57P)/.test(code)) return ComputeFailure.permanent(FAILURE.catalogFailed, (err as Error).message);
  return err;
}

/** Applies the spec's roles, databases and per-database settings. */
export async function applySpecSql(parsed: ParsedSpec, opts: ApplyOptions): Promise<ApplyResult> {
  try {
    return await apply(parsed, opts);
  } catch (err) {
    throw classified(err);
  }
}

async function apply(parsed: ParsedSpec, opts: ApplyOptions): Promise<ApplyResult> {
  const { connstr, concurrency } = opts;
  return withAdminClient(connstr, 'apply_config', async (client) => {
    const t0 = Date.now();
    const snap = await readClusterSnapshot(client, parsed.timelineId ?? '');
    const plan = planCatalog(parsed, snap, opts);
    // Tasks run concurrently: `count += await …` would read count before the await and lose updates.
    let count = 0;
    const add = (n: number) => (count += n);
    const phases: ApplyResult['phases'] = [{ name: 'Snapshot', ms: Date.now() - t0 }];

    const run = async (phase: PlannedPhase): Promise<void> => {
      switch (phase.where) {
        case 'system':
          add(await runPhase(client, phase, connstr, concurrency));
          return;
        case 'databases-to-drop':
          // Only databases that hold a subscription need a visit.
          return forEachLimit(phase.databases.filter((db) => (snap.subscriptions.get(db) ?? 0) > 0), concurrency, async (db) => {
            try {
              await withAdminClient(connstr, 'apply_config', async (c) => add(await runGroup(c, [DROP_SUBSCRIPTIONS])), db);
            } catch (err) {
              // Gone already (invalid_catalog_name): nothing to drop.
              if ((err as { code?: string }).code !== '3D000') throw err;
            }
          });
        case 'each-database':
          return forEachLimit(phase.databases, concurrency, (target) =>
            visitDatabase(connstr, 'apply_config', target.name, async (c) => {
              const cluster = { webAccessExists: snap.roles.has('web_access'), subscriptions: snap.subscriptions.get(target.name) ?? 0, serverVersionNum: snap.serverVersionNum };
              add(await runGroup(c, planDatabase(target, await readDatabaseSnapshot(c, opts.priv, cluster), plan, opts, snap.serverVersionNum)));
            }),
          );
      }
    };

    for (const phase of plan.phases) {
      const started = Date.now();
      await run(phase);
      phases.push({ name: phase.name, ms: Date.now() - started });
    }
    return { statements: count, phases: phases.filter((p) => p.ms > 0 || p.name === 'Snapshot') };
  });
}
