// Running planned statements fast: consecutive statements that may share a transaction go to the
// server as one multi-statement query (one round trip); CREATE/DROP DATABASE, which cannot, run
// alone; independent groups run in parallel on a small pool of connections.
import type { Client } from 'pg';
import { withAdminClient } from '../admin-connection';
import type { Group } from './plan';

const ALONE = /^\s*(CREATE|DROP)\s+DATABASE\b/i;

/** Statement text for error messages: password hashes never leave. */
export function redact(sql: string): string {
  return sql.replace(/PASSWORD\s+E?'(?:[^']|'')*'/gi, "PASSWORD '<redacted>'");
}

async function runOne(client: Client, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (err) {
    // Keep the SQLSTATE: it tells whether retrying can help.
    throw Object.assign(new Error(`${(err as Error).message} (while running: ${redact(sql)})`), { code: (err as { code?: string }).code });
  }
}

/** Runs a group in order; returns the number of statements. */
export async function runGroup(client: Client, group: Group): Promise<number> {
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 1) await runOne(client, batch[0]);
    else if (batch.length > 1) {
      try {
        await client.query(batch.join(';\n'));
      } catch {
        // The batch was one implicit transaction and rolled back whole: run it statement by
        // statement to apply what can be and to name the statement that fails.
        for (const sql of batch) await runOne(client, sql);
      }
    }
    batch = [];
  };
  for (const sql of group) {
    if (ALONE.test(sql)) {
      await flush();
      await runOne(client, sql);
    } else batch.push(sql);
  }
  await flush();
  return group.length;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (failed === null && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failed !== null) throw failed;
}

/** Runs a phase; parallel phases spread their groups over up to `concurrency` connections. */
export async function runPhase(client: Client, phase: { groups: Group[]; parallel: boolean }, connstr: string, concurrency: number): Promise<number> {
  if (phase.groups.length === 0) return 0;
  let count = 0;
  if (!phase.parallel || concurrency <= 1 || phase.groups.length === 1) {
    for (const group of phase.groups) {
      const n = await runGroup(client, group);
      count += n;
    }
    return count;
  }
  const queue = [...phase.groups];
  let failed: unknown = null;
  const worker = () =>
    withAdminClient(connstr, 'apply_config', async (c) => {
      while (failed === null && queue.length > 0) {
        try {
          const n = await runGroup(c, queue.shift()!); // not `count += await`: that loses updates
          count += n;
        } catch (err) {
          failed ??= err;
        }
      }
    });
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  if (failed !== null) throw failed;
  return count;
}
