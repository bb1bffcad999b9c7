// `npm run bench [-- startup N]`: N computes started one after another (POST /configure → running) through
// the real workflows, and in the same run the same startup steps called directly without
// Temporal. Prints median and p90 of each step and of the whole start, and the ratio.
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { chown, resolveRunAs } from '../src/postgres/os';
import { stopPostmaster } from '../src/postgres/postmaster';
import { freePort } from '../src/dev/ports';
import { startTemporalServer } from '../src/dev/temporal-server';
import { startUpstream } from '../src/dev/upstream';
import { findPostgres } from '../src/postgres/pgbin';
import { installRuntime } from '../src/runtime';
import { parseConfigurationRequest } from '../src/compute-spec/parse';
import { runComputeWorker } from '../src/worker';
import type { StartupResult } from '../src/workflows/startup-steps';
import { runStartupSteps } from '../src/workflows/startup-steps';

const STEPS = ['prepare_pgdata', 'sync_safekeepers', 'basebackup', 'finalize_pgdata', 'start_postgres', 'apply_config'];

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function spec(upstream: string, pgPort: number) {
  return {
    compute_ctl_config: { jwks: { keys: [] } },
    spec: {
      format_version: 1,
      suspend_timeout_seconds: -1,
      storage: { type: 'postgres', connstring: upstream },
      cluster: {
        roles: [{ name: 'neondb_owner', encrypted_password: null, options: null }],
        databases: [{ name: 'neondb', owner: 'neondb_owner', options: null }],
        postgresql_conf: `listen_addresses='127.0.0.1'\nport=${pgPort}\nunix_socket_directories=''\nfsync=off\nshared_buffers=16MB\n`,
      },
    },
  };
}

type Samples = Record<string, number[]>;

function record(samples: Samples, name: string, ms: number): void {
  (samples[name] ??= []).push(ms);
}

export async function benchStartup(n: number): Promise<void> {
  installRuntime('ERROR');
  const postgres = findPostgres();
  const runAs = resolveRunAs('postgres');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'compute-ctl-bench-'));
  await chmod(tmp, 0o755);
  await chown(tmp, runAs);
  const temporal = await startTemporalServer({ port: await freePort() });
  const upstream = await startUpstream({ pgdata: path.join(tmp, 'upstream'), port: await freePort(), postgres, runAs });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  const viaTemporal: Samples = {};
  const direct: Samples = {};

  try {
    for (let i = 0; i < n; i++) {
      const computeId = `bench-${process.pid}-${i}`;
      const [pgPort, ext, int] = [await freePort(), await freePort(), await freePort()];
      const pgdata = path.join(tmp, `${computeId}-pgdata`);
      const worker = await runComputeWorker({
        computeId, pgdata, postgres, connstr: `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`,
        externalHttpPort: ext, internalHttpPort: int, httpHost: '127.0.0.1', temporalAddress: temporal.address,
        temporalNamespace: 'default', pgUser: 'postgres', privilegedRoleName: 'neon_superuser', buildTag: 'bench',
        logLevel: 'error', workflowBundle: bundle,
      });
      try {
        const t0 = performance.now();
        const res = await fetch(`${worker.externalUrl}/configure`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec(upstream.connstring, pgPort)),
        });
        const total = performance.now() - t0;
        if (!res.ok) throw new Error(`configure failed: ${await res.text()}`);
        record(viaTemporal, 'total (configure → running)', total);
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
        pgdata: directPgdata, postgres, connstr: `postgresql://cloud_admin@127.0.0.1:${directPort}/postgres`,
        runAs, internalHttpPort: int, privilegedRoleName: 'neon_superuser',
      });
      const parsed = parseConfigurationRequest(spec(upstream.connstring, directPort));
      const d0 = performance.now();
      const result = await runStartupSteps(acts, parsed, () => performance.now());
      record(direct, 'total (configure → running)', performance.now() - d0);
      for (const s of result.steps) record(direct, s.step, s.ms);
      await acts.stopPostgres('immediate');
      await rm(pgdata, { recursive: true, force: true });
      await rm(directPgdata, { recursive: true, force: true });
      process.stderr.write(`bench: compute ${i + 1}/${n} done\n`);
    }
  } finally {
    await temporal.stop();
    await upstream.stop();
    await rm(tmp, { recursive: true, force: true });
  }

  const rows = [...STEPS, 'total (configure → running)'].map((name) => {
    const t = viaTemporal[name] ?? [0];
    const d = direct[name] ?? [0];
    const [tm, tp, dm, dp] = [quantile(t, 0.5), quantile(t, 0.9), quantile(d, 0.5), quantile(d, 0.9)];
    return { name, tm, tp, dm, dp, ratio: dm > 0 ? tm / dm : NaN };
  });
  const f = (x: number) => x.toFixed(1).padStart(8);
  console.log(`\n${n} computes, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
  console.log(`${'step'.padEnd(30)}${'temporal p50'.padStart(14)}${'p90'.padStart(9)}${'direct p50'.padStart(13)}${'p90'.padStart(9)}${'ratio'.padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(30)}${f(r.tm)} ms${f(r.tp)}${f(r.dm)} ms${f(r.dp)}${(Number.isNaN(r.ratio) ? '-' : r.ratio.toFixed(2)).padStart(8)}`);
  }
}
