// `npm run bench [-- startup N]`: N computes started one after another (POST /configure → running) through
// the real workflows; in the same run, the same startup steps called directly without Temporal, and
// the physical floor (the same work by hand with PostgreSQL's tools, floor.ts). Prints median and
// p90 of each step and of the whole start, and the ratios to both.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createActivities } from '../src/activities';
import { stopPostmaster } from '../src/postgres/postmaster';
import { freePort } from '../src/dev/ports';
import { installRuntime } from '../src/runtime';
import { parseConfigurationRequest } from '../src/compute-spec/parse';
import { runComputeWorker } from '../src/pod/pod';
import { DEFAULT_ORCHESTRATOR_QUEUE } from '../src/compute/ids';
import type { StartupResult } from '../src/workflows/startup-steps';
import { runStartupSteps } from '../src/workflows/startup-steps';
import { benchLine, machine, median, quantile, startBenchStack } from './common';
import { physicalFloor } from './floor';

const STEPS = ['prepare_pgdata', 'sync_safekeepers', 'basebackup', 'finalize_pgdata', 'start_postgres', 'apply_config'];

const TOTAL = 'total (configure → running)';

type Samples = Record<string, number[]>;

function record(samples: Samples, name: string, ms: number): void {
  (samples[name] ??= []).push(ms);
}

export async function benchStartup(n: number): Promise<void> {
  installRuntime('ERROR');
  const stack = await startBenchStack();
  const { postgres, runAs, tmp, upstream } = stack;
  const viaTemporal: Samples = {};
  const direct: Samples = {};
  const floor: number[] = [];

  try {
    for (let i = 0; i < n; i++) {
      const computeId = `bench-${process.pid}-${i}`;
      const [pgPort, ext, int] = [await freePort(), await freePort(), await freePort()];
      const pgdata = path.join(tmp, `${computeId}-pgdata`);
      const worker = await runComputeWorker({
        computeId, pgdata, postgres, connstr: `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`,
        externalHttpPort: ext, internalHttpPort: int, httpHost: '127.0.0.1', temporalAddress: stack.temporal.address,
        temporalNamespace: 'default', orchestratorQueue: DEFAULT_ORCHESTRATOR_QUEUE, pgUser: 'postgres', privilegedRoleName: 'neon_superuser', buildTag: 'bench',
        logLevel: 'error',
      });
      try {
        // A warm worker, as in a pool of computes waiting for their spec: a query has run the workflow.
        await worker.computes.status(computeId);
        const t0 = performance.now();
        const res = await fetch(`${worker.externalUrl}/configure`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(stack.request(pgPort)),
        });
        const total = performance.now() - t0;
        if (!res.ok) throw new Error(`configure failed: ${await res.text()}`);
        record(viaTemporal, TOTAL, total);
        const startup = (await worker.computes.client.workflow.getHandle(`compute-${computeId}-startup-1`).result()) as StartupResult;
        for (const s of startup.steps) record(viaTemporal, s.step, s.ms);
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
      const d0 = performance.now();
      const result = await runStartupSteps(acts, parsed, () => performance.now());
      record(direct, TOTAL, performance.now() - d0);
      for (const s of result.steps) record(direct, s.step, s.ms);
      await acts.stopPostgres('immediate');

      // The same physical work by hand.
      floor.push(await physicalFloor({ upstream: upstream.connstring, pgbinDir: path.dirname(postgres), runAs, pgdata: path.join(tmp, `${computeId}-floor`), port: await freePort() }));
      await rm(pgdata, { recursive: true, force: true });
      await rm(directPgdata, { recursive: true, force: true });
      process.stderr.write(`bench: compute ${i + 1}/${n} done\n`);
    }
  } finally {
    await stack.stop();
  }

  const rows = [...STEPS, TOTAL].map((name) => {
    const t = viaTemporal[name] ?? [0];
    const d = direct[name] ?? [0];
    const [tm, tp, dm, dp] = [quantile(t, 0.5), quantile(t, 0.9), quantile(d, 0.5), quantile(d, 0.9)];
    return { name, tm, tp, dm, dp, ratio: dm > 0 ? tm / dm : NaN };
  });
  const f = (x: number) => x.toFixed(1).padStart(8);
  console.log(`\n${n} computes, ${machine()}`);
  console.log(`${'step'.padEnd(30)}${'temporal p50'.padStart(14)}${'p90'.padStart(9)}${'direct p50'.padStart(13)}${'p90'.padStart(9)}${'ratio'.padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(30)}${f(r.tm)} ms${f(r.tp)}${f(r.dm)} ms${f(r.dp)}${(Number.isNaN(r.ratio) ? '-' : r.ratio.toFixed(2)).padStart(8)}`);
  }
  const [t50, d50, f50] = [median(viaTemporal[TOTAL]), median(direct[TOTAL]), median(floor)];
  console.log(`${'physical floor (by hand)'.padEnd(30)}${f(f50)} ms${f(quantile(floor, 0.9))}`);
  console.log(`through Temporal: ${(t50 / f50).toFixed(2)}× the floor (+${(t50 - f50).toFixed(0)} ms), ${(t50 / d50).toFixed(2)}× our direct steps (+${(t50 - d50).toFixed(0)} ms)`);
  benchLine('startup', {
    n,
    temporal_p50_ms: t50,
    direct_p50_ms: d50,
    floor_p50_ms: f50,
    ratio_to_floor: t50 / f50,
    over_floor_ms: t50 - f50,
    ratio_to_direct: t50 / d50,
    over_direct_ms: t50 - d50,
  });
}
