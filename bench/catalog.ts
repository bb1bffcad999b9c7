// `npm run bench -- catalog [N]`: the first-start catalog apply of N roles + N databases (each
// database owned by one of the roles) on a fresh cluster, then the same spec again (a no-op), and
// on the same server in the same run the raw floor: the equivalent DDL piped through psql, one
// statement after another. The floor of the re-apply is visiting each database: Neon's
// apply_spec_sql checks every database from inside it (so does ours, and a test proves drift inside a
// database is put back), so one connection and one read of the catalog checked there
// (pg_default_acl) per database, at the apply's concurrency, is work no re-apply can skip. All of it
// twice: with fsync off (BENCH catalog), then on (BENCH catalog_fsync), a user's server's default.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createActivities } from '../src/activities';
import { parseConfigurationRequest } from '../src/compute-spec/parse';
import { freePort } from '../src/dev/ports';
import { startUpstream } from '../src/dev/upstream';
import { resolveRunAs, runProgram } from '../src/postgres/os';
import { findPostgres } from '../src/postgres/pgbin';
import { benchLine, benchTempDir, machine } from './common';
import { visitFloor } from './floor';
import { rm } from 'node:fs/promises';
import { firstStartConcurrency } from '../src/postgres/catalog/plan';

async function rawFloor(psql: string, connstr: string, n: number, runAs: ReturnType<typeof resolveRunAs>): Promise<number> {
  const sql: string[] = [];
  for (let i = 0; i < n; i++) {
    sql.push(`CREATE ROLE "floor user ${i}" LOGIN PASSWORD 'md5${`${i}`.padStart(32, '0')}';`, `CREATE DATABASE "floor db ${i}" OWNER "floor user ${i}";`);
  }
  const file = path.join('/tmp', `compute-ctl-bench-floor-${process.pid}.sql`);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(file, `${sql.join('\n')}\n`, { mode: 0o644 });
  const t0 = performance.now();
  const r = await runProgram(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', connstr, '-f', file], { runAs });
  const ms = performance.now() - t0;
  await rm(file, { force: true });
  if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
  return ms;
}

/** The first apply, the re-apply and their floors on a fresh cluster with fsync off or on. */
async function catalogRun(n: number, fsync: boolean): Promise<void> {
  const postgres = findPostgres();
  const runAs = resolveRunAs('postgres');
  const tmp = await benchTempDir(runAs, 'catalog');
  const pgdata = path.join(tmp, 'pgdata');
  const port = await freePort();
  const cluster = await startUpstream({ pgdata, port, postgres, runAs, fsync });
  try {
    const acts = createActivities({
      computeId: 'bench-catalog', configSource: {}, pgdata, postgres, connstr: cluster.connstring, runAs, internalHttpPort: 0, privilegedRoleName: 'neon_superuser',
    });
    const parsed = parseConfigurationRequest({
      compute_ctl_config: { jwks: { keys: [] } },
      spec: {
        format_version: 1,
        suspend_timeout_seconds: -1,
        storage: { type: 'postgres', connstring: 'postgresql://unused@127.0.0.1/postgres' },
        cluster: {
          roles: Array.from({ length: n }, (_, i) => ({ name: `user ${i}`, encrypted_password: `${i}`.padStart(32, '0'), options: null })),
          databases: Array.from({ length: n }, (_, i) => ({ name: `db ${i}`, owner: `user ${i}`, options: null })),
          settings: [{ name: 'max_connections', value: '100', vartype: 'integer' }],
        },
      },
    });
    const floor = await rawFloor(path.join(path.dirname(postgres), 'psql'), cluster.connstring, n, runAs);
    const t0 = performance.now();
    const first = await acts.applyCatalog(parsed);
    const firstMs = performance.now() - t0;
    // Measured before the re-apply: each finds every database's first backend as cold as the other.
    const visit = await visitFloor(cluster.connstring, parsed.spec.cluster.databases.map((d) => d.name), firstStartConcurrency(parsed));
    const t1 = performance.now();
    const again = await acts.applyCatalog(parsed);
    const againMs = performance.now() - t1;
    console.log(`\n${n} roles + ${n} databases, ${machine()}, PostgreSQL (fsync=${fsync ? 'on' : 'off'})`);
    console.log(`raw floor (psql)    ${floor.toFixed(0).padStart(6)} ms  (${2 * n} statements, one after another)`);
    console.log(`from scratch        ${firstMs.toFixed(0).padStart(6)} ms  (${first.statements} statements; ${(firstMs / floor).toFixed(2)}× the floor)`);
    console.log(`same spec again     ${againMs.toFixed(0).padStart(6)} ms  (${again.statements} statements; ${(againMs / firstMs).toFixed(3)}× the first apply)`);
    console.log(`visit floor         ${visit.toFixed(0).padStart(6)} ms  (one connection + one pg_default_acl read per database; ${(visit / firstMs).toFixed(3)}× the first apply; the re-apply is ${(againMs / visit).toFixed(2)}× it)`);
    console.log(`phases from scratch: ${first.phases.map((p) => `${p.name} ${p.ms}`).join(', ')}`);
    console.log(`phases again:        ${again.phases.map((p) => `${p.name} ${p.ms}`).join(', ')}`);
    benchLine(fsync ? 'catalog_fsync' : 'catalog', { n, floor_ms: floor, first_apply_ms: firstMs, ratio_to_floor: firstMs / floor, reapply_ms: againMs, reapply_ratio: againMs / firstMs, visit_floor_ms: visit, reapply_to_visit_floor: againMs / visit });
  } finally {
    await cluster.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** fsync off (as the tests and a local stack run), then on (as a user's server does by default). */
export async function benchCatalog(n: number): Promise<void> {
  await catalogRun(n, false);
  await catalogRun(n, true);
}
