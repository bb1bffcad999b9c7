// `npm run bench -- reconfigure [N]`: a running compute with N roles + N databases is sent its own
// spec again, `POST /configure` end to end through HTTP, 5 times (`BENCH_RECONFIGURE_RUNS`). Beside
// each, in the same run on the same server: its visit floor (one connection and one catalog read per
// database at the reconfiguration's concurrency, reconfigure_concurrency: what no re-apply can skip)
// and its orchestration floor (a workflow whose child runs as many no-op activities as a
// reconfiguration has steps, in the same layout). Prints each step's time from the reconfiguration's
// history and one BENCH line.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client as TemporalClient } from '@temporalio/client';
import { createActivities } from '../src/activities';
import { DEFAULT_ORCHESTRATOR_QUEUE, reconfigureWorkflowId } from '../src/compute/ids';
import { parseConfigurationRequest } from '../src/compute-spec/parse';
import { freePort } from '../src/dev/ports';
import { runComputeWorker } from '../src/pod/pod';
import { benchLine, machine, median, quantile, smallRequest, startBenchStack } from './common';
import { orchestrationFloor, visitFloor } from './floor';

/** A reconfiguration's steps (workflows/reconfigure.ts): reloadConfig, applyCatalog. */
const RECONFIGURE_STEPS = 2;

function largeRequest(upstream: string, pgPort: number, n: number, concurrency: number) {
  const small = smallRequest(upstream, pgPort);
  return {
    ...small,
    spec: {
      ...small.spec,
      reconfigure_concurrency: concurrency,
      cluster: {
        ...small.spec.cluster,
        roles: Array.from({ length: n }, (_, i) => ({ name: `user ${i}`, encrypted_password: null, options: null })),
        databases: Array.from({ length: n }, (_, i) => ({ name: `db ${i}`, owner: `user ${i}`, options: null })),
      },
    },
  };
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

/** Each activity's scheduled → completed time in one reconfiguration's history, by activity type. */
async function stepTimes(client: TemporalClient, workflowId: string): Promise<Record<string, number>> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = new Map<string, { type: string; at: number }>();
  const out: Record<string, number> = {};
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: ms(e.eventTime) });
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(String(done.scheduledEventId));
      if (s) out[s.type] = ms(e.eventTime) - s.at;
      // The catalog's own phases (CatalogResult.phases), when the payload is plain JSON (no payload key).
      const payload = done.result?.payloads?.[0];
      if (s?.type === 'applyCatalog' && payload?.data && Buffer.from(payload.metadata?.encoding ?? []).toString() === 'json/plain') {
        const result = JSON.parse(Buffer.from(payload.data).toString()) as { phases?: { name: string; ms: number }[] };
        for (const p of result.phases ?? []) out[`  catalog phase ${p.name}`] = p.ms;
      }
    }
  }
  if (events.length > 1) out['child workflow (start → close)'] = ms(events.at(-1)!.eventTime) - ms(events[0].eventTime);
  return out;
}

export async function benchReconfigure(n: number): Promise<void> {
  const runs = Number(process.env.BENCH_RECONFIGURE_RUNS ?? 5);
  const concurrency = Number(process.env.BENCH_RECONFIGURE_CONCURRENCY ?? 1);
  const stack = await startBenchStack();
  const floor = await orchestrationFloor(stack.temporal.address, RECONFIGURE_STEPS);
  const computeId = `bench-reconfigure-${process.pid}`;
  const [pgPort, ext, int] = [await freePort(), await freePort(), await freePort()];
  const worker = await runComputeWorker({
    computeId, pgdata: path.join(stack.tmp, `${computeId}-pgdata`), postgres: stack.postgres, connstr: `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`,
    externalHttpPort: ext, internalHttpPort: int, httpHost: '127.0.0.1', temporalAddress: stack.temporal.address,
    temporalNamespace: 'default', orchestratorQueue: DEFAULT_ORCHESTRATOR_QUEUE, pgUser: 'postgres', privilegedRoleName: 'neon_superuser', buildTag: 'bench',
    logLevel: 'error',
  });
  const body = largeRequest(stack.upstream.connstring, pgPort, n, concurrency);
  const request = JSON.stringify(body);
  // The catalog step called directly, without Temporal, on the same compute: what the step costs by itself.
  const acts = createActivities({
    computeId, configSource: {}, pgdata: path.join(stack.tmp, `${computeId}-pgdata`), postgres: stack.postgres,
    connstr: `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`, runAs: stack.runAs, internalHttpPort: int, privilegedRoleName: 'neon_superuser',
  });
  const parsed = parseConfigurationRequest(body);
  const configure = async () => {
    const t0 = performance.now();
    const res = await fetch(`${worker.externalUrl}/configure`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request });
    const took = performance.now() - t0;
    if (!res.ok) throw new Error(`configure failed: ${res.status} ${await res.text()}`);
    return took;
  };
  const ours: number[] = [];
  const visits: number[] = [];
  const orchestration: number[] = [];
  const direct: number[] = [];
  const steps: Record<string, number[]> = {};
  try {
    await worker.ready;
    const firstMs = await configure();
    const databases = Array.from({ length: n }, (_, i) => `db ${i}`);
    const connstr = `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`;
    await visitFloor(connstr, databases, concurrency); // warm, as the first start warmed the compute's
    for (let i = 1; i <= runs; i++) {
      ours.push(await configure());
      for (const [k, v] of Object.entries(await stepTimes(worker.computes.client, reconfigureWorkflowId(computeId, i)))) (steps[k] ??= []).push(v);
      visits.push(await visitFloor(connstr, databases, concurrency));
      const d0 = performance.now();
      await acts.applyCatalog(parsed, { firstStart: false });
      direct.push(performance.now() - d0);
      orchestration.push(await floor.run());
      process.stderr.write(`bench: reconfiguration ${i}/${runs} done\n`);
    }
    const [o50, v50, f50] = [median(ours), median(visits), median(orchestration)];
    const f = (x: number) => x.toFixed(1).padStart(8);
    console.log(`\nan unchanged POST /configure of ${n} roles + ${n} databases (reconfigure_concurrency ${concurrency}), ${runs} times, Temporal dev server, ${machine()}`);
    console.log(`first start (configure → running)  ${f(firstMs)} ms`);
    console.log(`${'measure'.padEnd(34)}${'p50'.padStart(11)}${'p90'.padStart(9)}`);
    console.log(`${'unchanged /configure (HTTP)'.padEnd(34)}${f(o50)} ms${f(quantile(ours, 0.9))}`);
    for (const [k, v] of Object.entries(steps)) console.log(`${`  ${k}`.padEnd(34)}${f(median(v))} ms${f(quantile(v, 0.9))}`);
    console.log(`${'applyCatalog called directly'.padEnd(34)}${f(median(direct))} ms${f(quantile(direct, 0.9))}`);
    console.log(`${'visit floor'.padEnd(34)}${f(v50)} ms${f(quantile(visits, 0.9))}   (a connection + a catalog read per database, concurrency ${concurrency})`);
    console.log(`${'orchestration floor'.padEnd(34)}${f(f50)} ms${f(quantile(orchestration, 0.9))}   (${RECONFIGURE_STEPS} no-op activities in a child workflow, same layout)`);
    console.log(`ours − visit − orchestration: ${(o50 - v50 - f50).toFixed(0)} ms`);
    benchLine('reconfigure', { n, concurrency, runs, configure_p50_ms: o50, catalog_direct_p50_ms: median(direct), visit_floor_p50_ms: v50, orchestration_floor_p50_ms: f50, over_floors_ms: o50 - v50 - f50 });
  } finally {
    await fetch(`${worker.externalUrl}/terminate?mode=immediate`, { method: 'POST' }).catch(() => undefined);
    await stack.stopPostgres(path.join(stack.tmp, `${computeId}-pgdata`));
    await worker.shutdown();
    await floor.stop();
    await stack.stop();
  }
}
