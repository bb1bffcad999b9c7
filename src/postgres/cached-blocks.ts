// The cached blocks of a plain PostgreSQL, as the "LFC state" of Neon's prewarm and offload
// (reference §6.3). Plain PostgreSQL has no Local File Cache: its cache is shared_buffers, and
// contrib's pg_prewarm both lists it (autoprewarm_dump_now(), the autoprewarm.blocks format: a
// `<<N>>` line, then `database,tablespace,filenode,fork,block` per cached block) and reads blocks
// back into it (pg_prewarm(regclass, 'buffer', fork, first, last)).
//
// Its functions are taken from the pg_prewarm extension where a database has it; elsewhere they are
// declared for the session only (pg_temp, over the same library), so that a compute leaves no
// extension behind in the user's databases. A read-only database (a hot standby) without the
// extension cannot have them: its blocks count as skipped.
import type { Client } from 'pg';
import { adminDatabase, withAdminClient } from './admin-connection';
import { quoteIdent } from './catalog/sql';

export interface CachedBlock {
  /** 0 for the shared catalogs. */
  database: number;
  tablespace: number;
  filenode: number;
  /** 0 main, 1 fsm, 2 vm, 3 init. */
  fork: number;
  block: number;
}

export interface LoadResult {
  /** Blocks in the state. */
  total: number;
  /** Blocks read into shared_buffers. */
  prewarmed: number;
  /** Blocks whose database or relation is gone, past the relation's end, or in a database that cannot run pg_prewarm. */
  skipped: number;
}

/** The load stopped because its signal was aborted; what was read so far stays cached. */
export class LoadCancelled extends Error {
  constructor(readonly partial: Omit<LoadResult, 'total'>) {
    super('prewarm cancelled');
    this.name = 'LoadCancelled';
  }
}

const FORKS = ['main', 'fsm', 'vm', 'init'] as const;
/** Blocks per pg_prewarm() call: how often a load looks at its signal (8 MB with 8 kB blocks). */
const CHUNK_BLOCKS = 1024;

const TEMPORARY_FUNCTIONS = [
  "CREATE FUNCTION pg_temp.autoprewarm_dump_now() RETURNS int8 LANGUAGE C AS '$libdir/pg_prewarm', 'autoprewarm_dump_now'",
  "CREATE FUNCTION pg_temp.pg_prewarm(regclass, text, text, int8, int8) RETURNS int8 LANGUAGE C AS '$libdir/pg_prewarm', 'pg_prewarm'",
];

interface PrewarmFunctions {
  dump: string;
  prewarm: string;
}

/** pg_prewarm's functions in the connected database, or null when it is read-only and has no extension. */
async function prewarmFunctions(client: Client): Promise<PrewarmFunctions | null> {
  const installed = await client.query<{ schema: string }>(
    "SELECT n.nspname AS schema FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_prewarm'",
  );
  if (installed.rows.length > 0) {
    const schema = quoteIdent(installed.rows[0].schema);
    return { dump: `${schema}.autoprewarm_dump_now`, prewarm: `${schema}.pg_prewarm` };
  }
  const { rows } = await client.query<{ ro: boolean }>("SELECT pg_catalog.pg_is_in_recovery() OR pg_catalog.current_setting('transaction_read_only') = 'on' AS ro");
  if (rows[0].ro) return null;
  for (const sql of TEMPORARY_FUNCTIONS) await client.query(sql);
  return { dump: 'pg_temp.autoprewarm_dump_now', prewarm: 'pg_temp.pg_prewarm' };
}

/** The blocks in shared_buffers now, in the autoprewarm.blocks format; null when none is cached. */
export async function dumpCachedBlocks(connstr: string): Promise<Buffer | null> {
  return withAdminClient(connstr, 'lfc_offload', async (client) => {
    const fns = await prewarmFunctions(client);
    if (!fns) throw new Error(`cannot list the cached blocks: database ${adminDatabase(connstr)} is read-only and has no pg_prewarm extension (CREATE EXTENSION pg_prewarm on the primary)`);
    const count = Number((await client.query<{ n: string }>(`SELECT ${fns.dump}() AS n`)).rows[0].n);
    if (count === 0) return null;
    // Written by the server into its data directory; read back through it (the pod may not share the files).
    return (await client.query<{ f: Buffer }>("SELECT pg_catalog.pg_read_binary_file('autoprewarm.blocks') AS f")).rows[0].f;
  });
}

/** Parses an autoprewarm.blocks list; throws on anything else. */
export function parseBlockList(text: string): CachedBlock[] {
  const lines = text.split('\n');
  const header = /^<<(\d+)>>$/.exec(lines[0] ?? '');
  if (!header) throw new Error('the LFC state is not a block list (no <<N>> header)');
  const blocks: CachedBlock[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const f = lines[i].split(',');
    const n = f.map(Number);
    if (f.length !== 5 || n.some((v) => !Number.isInteger(v) || v < 0) || n[3] >= FORKS.length) {
      throw new Error(`the LFC state is not a block list (line ${i + 1}: ${JSON.stringify(lines[i].slice(0, 60))})`);
    }
    blocks.push({ database: n[0], tablespace: n[1], filenode: n[2], fork: n[3], block: n[4] });
  }
  if (blocks.length !== Number(header[1])) throw new Error(`the LFC state lists ${blocks.length} blocks, its header says ${header[1]}`);
  return blocks;
}

/** Contiguous blocks of one relation fork, as this database names them, and the fork's current length. */
const RANGES_SQL = `
WITH b AS (SELECT * FROM unnest($1::oid[], $2::oid[], $3::int[], $4::int8[]) AS b(spc, node, fork, blk)),
r AS (SELECT pg_catalog.pg_filenode_relation(spc, node) AS rel, fork, blk FROM b),
g AS (SELECT rel, fork, blk, blk - row_number() OVER (PARTITION BY rel, fork ORDER BY blk) AS run FROM r WHERE rel IS NOT NULL)
SELECT rel::oid::int8 AS rel, fork, min(blk) AS first, max(blk) AS last,
       pg_catalog.pg_relation_size(rel, (ARRAY['main','fsm','vm','init'])[fork + 1]) / pg_catalog.current_setting('block_size')::int8 AS nblocks
FROM g GROUP BY rel, fork, run ORDER BY rel, fork, first`;

interface Range {
  rel: string;
  fork: number;
  first: string;
  last: string;
  nblocks: string;
}

/**
 * Reads the listed blocks back into shared_buffers, database by database. Blocks that cannot be
 * read are counted as skipped, not failed: the state is a hint of what was hot, taken earlier.
 */
export async function loadCachedBlocks(connstr: string, blocks: CachedBlock[], signal?: AbortSignal): Promise<LoadResult> {
  const result: LoadResult = { total: blocks.length, prewarmed: 0, skipped: 0 };
  const systemDb = adminDatabase(connstr);
  const byDatabase = new Map<number, CachedBlock[]>();
  for (const b of blocks) {
    const list = byDatabase.get(b.database) ?? [];
    list.push(b);
    byDatabase.set(b.database, list);
  }
  const names = await withAdminClient(connstr, 'lfc_prewarm', async (c) => {
    const { rows } = await c.query<{ oid: number; datname: string }>('SELECT oid, datname FROM pg_catalog.pg_database WHERE datallowconn AND datconnlimit <> -2');
    return new Map(rows.map((r) => [Number(r.oid), r.datname]));
  });
  for (const [oid, list] of byDatabase) {
    // The shared catalogs' blocks are read from the system database.
    const database = oid === 0 ? systemDb : names.get(oid);
    if (database === undefined) {
      result.skipped += list.length;
      continue;
    }
    const done = await withAdminClient(connstr, 'lfc_prewarm', (c) => loadIn(c, list, signal), database).catch((err: unknown) => {
      if (err instanceof LoadCancelled) throw new LoadCancelled({ prewarmed: result.prewarmed + err.partial.prewarmed, skipped: result.skipped + err.partial.skipped });
      // A database dropped or refusing connections since: its blocks are skipped.
      return { prewarmed: 0, skipped: list.length };
    });
    result.prewarmed += done.prewarmed;
    result.skipped += done.skipped;
  }
  return result;
}

async function loadIn(client: Client, list: CachedBlock[], signal?: AbortSignal): Promise<{ prewarmed: number; skipped: number }> {
  const out = { prewarmed: 0, skipped: 0 };
  const fns = await prewarmFunctions(client);
  if (!fns) return { prewarmed: 0, skipped: list.length };
  const { rows } = await client.query<Range>(RANGES_SQL, [
    list.map((b) => b.tablespace),
    list.map((b) => b.filenode),
    list.map((b) => b.fork),
    list.map((b) => b.block),
  ]);
  // Blocks of relations that no longer exist here had no range.
  out.skipped = list.length - rows.reduce((n, r) => n + Number(r.last) - Number(r.first) + 1, 0);
  for (const r of rows) {
    const first = Number(r.first);
    const last = Number(r.last);
    const end = Math.min(last, Number(r.nblocks) - 1);
    out.skipped += last - Math.max(end, first - 1);
    for (let from = first; from <= end; from += CHUNK_BLOCKS) {
      if (signal?.aborted) throw new LoadCancelled(out);
      const to = Math.min(end, from + CHUNK_BLOCKS - 1);
      try {
        const read = await client.query<{ n: string }>(`SELECT ${fns.prewarm}($1::oid::regclass, 'buffer', $2, $3, $4) AS n`, [r.rel, FORKS[r.fork], from, to]);
        out.prewarmed += Number(read.rows[0].n);
        out.skipped += to - from + 1 - Number(read.rows[0].n);
      } catch {
        // Dropped or truncated meanwhile.
        out.skipped += to - from + 1;
      }
    }
  }
  return out;
}
