// `npm run bench -- neon [N]`: Primary computes started from Neon storage (the wire-level fixtures of
// the pageserver and safekeepers, test/fixtures), POST /configure → running.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeBasebackupTarball, makeNeonPgbin, PageserverFixture, SafekeeperFixture } from '../test/fixtures/neon';
import { freePort } from '../src/dev/ports';
import { stopPostmaster } from '../src/postgres/postmaster';
import { runComputeWorker } from '../src/pod/pod';
import { DEFAULT_ORCHESTRATOR_QUEUE, startupWorkflowId } from '../src/compute/ids';
import type { StartupResult } from '../src/workflows/startup-steps';
import { benchLine, machine, quantile, startBenchStack } from './common';

const TENANT = 'b0554b632bd4d547a63b86c3630317e8';
const TIMELINE = '2414a61ffc94e428f14b5758fe308e13';
const TOKEN = 'bench-storage-token';

export async function benchNeon(n: number): Promise<void> {
  const stack = await startBenchStack();
  const { tarball, lsn } = await makeBasebackupTarball(stack.upstream.connstring, path.dirname(stack.postgres), stack.runAs, stack.tmp);
  const pageserver = new PageserverFixture(tarball, TOKEN);
  const safekeepers = [new SafekeeperFixture(TOKEN), new SafekeeperFixture(TOKEN), new SafekeeperFixture(TOKEN)];
  await Promise.all([pageserver.server.listen(), ...safekeepers.map((sk) => sk.server.listen())]);
  for (const sk of safekeepers) sk.status = { flush_lsn: lsn.toUpperCase(), commit_lsn: lsn.toUpperCase() };
  const { postgres } = await makeNeonPgbin(stack.tmp, stack.postgres, stack.runAs);
  const times: number[] = [];
  const steps: Record<string, number[]> = {};
  try {
    for (let i = 0; i < n; i++) {
      const computeId = `neon-${process.pid}-${i}`;
      const [pgPort, ext, int] = [await freePort(), await freePort(), await freePort()];
      const pgdata = path.join(stack.tmp, `${computeId}-pgdata`);
      const worker = await runComputeWorker({
        computeId, pgdata, postgres, connstr: `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`,
        externalHttpPort: ext, internalHttpPort: int, httpHost: '127.0.0.1', temporalAddress: stack.temporal.address,
        temporalNamespace: 'default', orchestratorQueue: DEFAULT_ORCHESTRATOR_QUEUE, pgUser: 'postgres', privilegedRoleName: 'neon_superuser', buildTag: 'bench', logLevel: 'error',
      });
      try {
        const body = {
          compute_ctl_config: { jwks: { keys: [] } },
          spec: {
            format_version: 1,
            suspend_timeout_seconds: -1,
            tenant_id: TENANT,
            timeline_id: TIMELINE,
            storage_auth_token: TOKEN,
            safekeeper_connstrings: safekeepers.map((sk) => sk.address),
            pageserver_connection_info: { shard_count: 0, stripe_size: null, shards: { '0000': { pageservers: [{ id: 1, libpq_url: pageserver.url, grpc_url: null }] } } },
            cluster: {
              roles: [{ name: 'neondb_owner', encrypted_password: null, options: null }],
              databases: [{ name: 'neondb', owner: 'neondb_owner', options: null }],
              postgresql_conf: `listen_addresses='127.0.0.1'\nport=${pgPort}\nunix_socket_directories=''\nfsync=off\nshared_buffers=16MB\n`,
            },
          },
        };
        // A warm worker, as in a pool of computes waiting for their spec: a query has run the workflow.
        await worker.computes.status(computeId);
        const t0 = performance.now();
        const res = await fetch(`${worker.externalUrl}/configure`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        if (!res.ok) throw new Error(`configure failed: ${await res.text()}`);
        times.push(performance.now() - t0);
        const startup = (await worker.computes.client.workflow.getHandle(startupWorkflowId(computeId, 1)).result()) as StartupResult;
        for (const s of startup.steps) (steps[s.step] ??= []).push(s.ms);
        process.stderr.write(`bench: neon ${i + 1}/${n}: ${times.at(-1)!.toFixed(0)} ms\n`);
        await fetch(`${worker.externalUrl}/terminate?mode=immediate`, { method: 'POST' });
      } finally {
        await stopPostmaster(pgdata, 'SIGQUIT').catch(() => undefined);
        await worker.shutdown();
      }
    }
  } finally {
    await Promise.allSettled([pageserver.server.close(), ...safekeepers.map((sk) => sk.server.close())]);
    await stack.stop();
  }
  console.log(`\nsteps p50: ${Object.entries(steps).map(([k, v]) => `${k} ${quantile(v, 0.5).toFixed(0)} ms`).join(', ')}`);
  console.log(`Neon Primary starts (fixture pageserver + 3 safekeepers in sync), ${n} runs, ${machine()}: configure → running p50 ${quantile(times, 0.5).toFixed(0)} ms, p90 ${quantile(times, 0.9).toFixed(0)} ms`);
  benchLine('neon', { configure_to_running_p50_ms: quantile(times, 0.5), configure_to_running_p90_ms: quantile(times, 0.9) });
}
