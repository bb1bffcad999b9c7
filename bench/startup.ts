// `npm run bench [-- startup N]`: N computes started one after another (POST /configure → running)
// through the real workflows, on the dev server and then on a real Temporal cluster; beside each, in
// the same run and on the same server: the same startup steps called directly without Temporal, the
// physical floor (the same work by hand with PostgreSQL's tools) and the orchestration floor
// (Temporal's own cost of a start's shape: floor.ts). Before each measured start the upstream is
// checkpointed, so that no start pays for another's dirty pages in pg_basebackup's checkpoint.
// Prints median and p90 of each step and of the whole start, what is above both floors, and one
// BENCH line per server.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { createActivities } from '../src/activities';
import { stopPostmaster } from '../src/postgres/postmaster';
import { freePort } from '../src/dev/ports';
import { installRuntime } from '../src/temporal/core-runtime';
import { parseConfigurationRequest } from '../src/compute-spec/parse';
import { runComputeWorker } from '../src/pod/pod';
import { DEFAULT_ORCHESTRATOR_QUEUE, startupWorkflowId } from '../src/compute/ids';
import type { StartupResult } from '../src/workflows/startup-steps';
import { runStartupSteps } from '../src/workflows/startup-steps';
import { benchLine, machine, median, quantile, startBenchStack, type BenchStack } from './common';
import { orchestrationFloor, physicalFloor } from './floor';

const STEPS = ['prepare_pgdata', 'sync_safekeepers', 'basebackup', 'finalize_pgdata', 'start_postgres', 'apply_config'];

const TOTAL = 'total (configure → running)';

type Samples = Record<string, number[]>;

function record(samples: Samples, name: string, ms: number): void {
  (samples[name] ??= []).push(ms);
}

/** The upstream checkpointed: the next pg_basebackup's own checkpoint has nothing to write. */
async function quiesce(upstream: string): Promise<void> {
  const c = new Client({ connectionString: upstream });
  await c.connect();
  try {
    await c.query('CHECKPOINT');
  } finally {
    await c.end();
  }
}

interface ServerRun {
  server: 'dev' | 'cluster';
  viaTemporal: Samples;
  direct: Samples;
  physical: number[];
  orchestration: number[];
}

async function runOn(server: 'dev' | 'cluster', n: number): Promise<ServerRun> {
  const stack: BenchStack = await startBenchStack({ cluster: server === 'cluster' });
  const { postgres, runAs, tmp, upstream } = stack;
  const run: ServerRun = { server, viaTemporal: {}, direct: {}, physical: [], orchestration: [] };
  const floor = await orchestrationFloor(stack.temporal.address, STEPS.length);
  try {
    for (let i = 0; i < n; i++) {
      const computeId = `bench-${server}-${process.pid}-${i}`;
      const [pgPort, ext, int] = [await freePort(), await freePort(), await freePort()];
      const pgdata = path.join(tmp, `${computeId}-pgdata`);
      // A pod as a pool holds it: booted, its lifecycle reached (runComputeWorker resolves then).
      const worker = await runComputeWorker({
        computeId, pgdata, postgres, connstr: `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`,
        externalHttpPort: ext, internalHttpPort: int, httpHost: '127.0.0.1', temporalAddress: stack.temporal.address,
        temporalNamespace: 'default', orchestratorQueue: DEFAULT_ORCHESTRATOR_QUEUE, pgUser: 'postgres', privilegedRoleName: 'neon_superuser', buildTag: 'bench',
        logLevel: 'error',
      });
      try {
        await worker.ready;
        await quiesce(upstream.connstring);
        const t0 = performance.now();
        const res = await fetch(`${worker.externalUrl}/configure`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(stack.request(pgPort)),
        });
        const total = performance.now() - t0;
        if (!res.ok) throw new Error(`configure failed: ${await res.text()}`);
        record(run.viaTemporal, TOTAL, total);
        const startup = (await worker.computes.client.workflow.getHandle(startupWorkflowId(computeId, 1)).result()) as StartupResult;
        for (const s of startup.steps) record(run.viaTemporal, s.step, s.ms);
        await fetch(`${worker.externalUrl}/terminate?mode=immediate`, { method: 'POST' });
      } finally {
        await stopPostmaster(pgdata, 'SIGQUIT').catch(() => undefined);
        await worker.shutdown();
      }

      // The same steps, called directly.
      const directPgdata = path.join(tmp, `${computeId}-direct-pgdata`);
      const directPort = await freePort();
      const acts = createActivities({
        computeId, configSource: {}, pgdata: directPgdata, postgres, connstr: `postgresql://cloud_admin@127.0.0.1:${directPort}/postgres`,
        runAs, internalHttpPort: int, privilegedRoleName: 'neon_superuser',
      });
      const parsed = parseConfigurationRequest(stack.request(directPort));
      await quiesce(upstream.connstring);
      const d0 = performance.now();
      const result = await runStartupSteps(acts, parsed, () => performance.now());
      record(run.direct, TOTAL, performance.now() - d0);
      for (const s of result.steps) record(run.direct, s.step, s.ms);
      await acts.stopPostgres('immediate');

      // The same physical work by hand, then Temporal's own cost of the same shape.
      await quiesce(upstream.connstring);
      run.physical.push(await physicalFloor({ upstream: upstream.connstring, pgbinDir: path.dirname(postgres), runAs, pgdata: path.join(tmp, `${computeId}-floor`), port: await freePort() }));
      run.orchestration.push(await floor.run());
      await rm(pgdata, { recursive: true, force: true });
      await rm(directPgdata, { recursive: true, force: true });
      process.stderr.write(`bench: ${server}: compute ${i + 1}/${n} done\n`);
    }
  } finally {
    await floor.stop();
    await stack.stop();
  }
  return run;
}

function report(run: ServerRun, n: number): void {
  const { viaTemporal, direct } = run;
  const rows = [...STEPS, TOTAL].map((name) => {
    const t = viaTemporal[name] ?? [0];
    const d = direct[name] ?? [0];
    const [tm, tp, dm, dp] = [quantile(t, 0.5), quantile(t, 0.9), quantile(d, 0.5), quantile(d, 0.9)];
    return { name, tm, tp, dm, dp, ratio: dm > 0 ? tm / dm : NaN };
  });
  const f = (x: number) => x.toFixed(1).padStart(8);
  console.log(`\n${n} computes on the ${run.server === 'dev' ? 'Temporal dev server' : 'real Temporal cluster (temporal-server v1.29.1, PostgreSQL)'}, ${machine()}`);
  console.log(`${'step'.padEnd(30)}${'temporal p50'.padStart(14)}${'p90'.padStart(9)}${'direct p50'.padStart(13)}${'p90'.padStart(9)}${'ratio'.padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(30)}${f(r.tm)} ms${f(r.tp)}${f(r.dm)} ms${f(r.dp)}${(Number.isNaN(r.ratio) ? '-' : r.ratio.toFixed(2)).padStart(8)}`);
  }
  const [t50, d50, p50, o50] = [median(viaTemporal[TOTAL]), median(direct[TOTAL]), median(run.physical), median(run.orchestration)];
  console.log(`${'physical floor (by hand)'.padEnd(30)}${f(p50)} ms${f(quantile(run.physical, 0.9))}`);
  console.log(`${'orchestration floor'.padEnd(30)}${f(o50)} ms${f(quantile(run.orchestration, 0.9))}   (${STEPS.length} no-op activities in a child workflow, same layout)`);
  console.log(
    `through Temporal: ${(t50 / p50).toFixed(2)}× the physical floor; ${(t50 - p50 - o50).toFixed(0)} ms above physical + orchestration floors; ${(t50 / d50).toFixed(2)}× our direct steps (+${(t50 - d50).toFixed(0)} ms)`,
  );
  benchLine(run.server === 'dev' ? 'startup' : 'startup_cluster', {
    n,
    temporal_p50_ms: t50,
    direct_p50_ms: d50,
    floor_p50_ms: p50,
    orchestration_floor_p50_ms: o50,
    over_floors_ms: t50 - p50 - o50,
    ratio_to_floor: t50 / p50,
    over_floor_ms: t50 - p50,
    ratio_to_direct: t50 / d50,
    over_direct_ms: t50 - d50,
  });
}

export async function benchStartup(n: number): Promise<void> {
  installRuntime('ERROR');
  // BENCH_STARTUP_SERVERS=dev (or cluster) runs one of the two.
  const servers = (process.env.BENCH_STARTUP_SERVERS ?? 'dev,cluster').split(',') as ('dev' | 'cluster')[];
  const runs: ServerRun[] = [];
  for (const server of servers) runs.push(await runOn(server, n));
  for (const run of runs) report(run, n);
}
