// `npm run bench -- fleet [N]` (default 50), on a real Temporal cluster (temporal-server v1.29.1,
// PostgreSQL persistence): N idle computes, each a pod (`compute-ctl worker`) with its Postgres
// running, and two orchestrator processes. What an idle compute costs Temporal and the machine:
// - long polls per compute, from the server (DescribeTaskQueue pollers of each compute's queue);
// - frontend requests per compute per minute other than poll renewals (the frontend's counters);
// - the Temporal services' resident memory per compute (with N pods vs with none);
// - a pod's resident memory beside its floor, measured in the same run: a Node process with Fastify
//   listening and an activity-only Temporal worker holding one poll (bench/pod-floor.ts);
// - the orchestrators' resident memory;
// - a start (configure → running) with N idle computes beside it vs with one.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { CLUSTER_SERVICES } from '../src/dev/temporal-cluster';
import { taskQueueFor } from '../src/compute/ids';
import { benchLine, benchSlot, configure, machine, median, quantile, rssMb, spawnBenchWorker, startBenchStack, waitForStatus, type BenchStack, type BenchWorker, type BenchSlot } from './common';

/** How long the idle fleet is watched for requests (BENCH_FLEET_WINDOW_S). */
const WINDOW_S = Number(process.env.BENCH_FLEET_WINDOW_S ?? 90);
/** Starts timed with one and with N idle computes beside them. */
const STARTS = Number(process.env.BENCH_FLEET_STARTS ?? 5);
const ACTIVITY = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;

interface Pod {
  slot: BenchSlot;
  w: BenchWorker;
}

/** A pod whose API answers and whose lifecycle it has reached (its /status is not stale). */
async function bootPod(stack: BenchStack, name: string): Promise<Pod> {
  const slot = await benchSlot(stack, name);
  const w = spawnBenchWorker(stack, slot);
  await waitForStatus(w, performance.now(), (body) => !(body as { stale?: unknown }).stale, 180_000);
  return { slot, w };
}

async function stopPod(stack: BenchStack, p: Pod): Promise<void> {
  p.w.kill();
  await p.w.exited;
  await stack.stopPostgres(p.slot.pgdata);
}

/**
 * Fresh pods started one after another, each configure → running timed, then terminated (the pod
 * exits after an immediate termination): a killed pod would leave its lifecycle waiting on it.
 */
async function timedStarts(stack: BenchStack, name: string, k: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < k; i++) {
    const p = await bootPod(stack, `${name}-${i}`);
    try {
      const t0 = performance.now();
      await configure(p.w, stack.request(p.slot.pgPort));
      times.push(performance.now() - t0);
      await fetch(`${p.w.api}/terminate?mode=immediate`, { method: 'POST' });
      await Promise.race([p.w.exited, new Promise((r) => setTimeout(r, 10_000))]);
    } finally {
      await stopPod(stack, p);
    }
  }
  return times;
}

/**
 * The Temporal services' memory, each and summed: resident (what the machine gives them), and what
 * they hold live: the Go heap in use plus stacks right after a collection (the heap profile with
 * gc=1 runs one first). RSS adds the collector's headroom and memory not yet returned to the system.
 */
async function serverMemory(stack: BenchStack): Promise<{ total: number; live: number; each: string }> {
  const each: string[] = [];
  let total = 0;
  let live = 0;
  for (const s of CLUSTER_SERVICES) {
    const stats = await (await fetch(`${stack.cluster!.pprofUrl[s]}/heap?gc=1&debug=1`)).text();
    const mb = await rssMb(stack.cluster!.pid(s)!);
    // runtime.MemStats as the profile prints it: HeapAlloc (the heap's live objects, just after the
    // collection), `Stack = <in use> / <from the system>`.
    const stat = (name: string) => Number(new RegExp(`^# ${name} = (\\d+)`, 'm').exec(stats)?.[1] ?? NaN) / 2 ** 20;
    const liveMb = stat('HeapAlloc') + stat('Stack');
    each.push(`${s} ${mb.toFixed(0)} (live ${liveMb.toFixed(0)})`);
    total += mb;
    live += liveMb;
  }
  return { total, live, each: each.join(', ') };
}

/** The pod's floor (bench/pod-floor.ts), running until killed; its RSS once settled. */
async function floorRssMb(address: string): Promise<number> {
  const proc: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'pod-floor.js'), address, `pod-floor-${process.pid}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      proc.once('exit', () => reject(new Error('the pod floor process exited')));
    });
    await new Promise((r) => setTimeout(r, 5_000));
    return await rssMb(proc.pid!);
  } finally {
    proc.kill('SIGKILL');
  }
}

export async function benchFleet(n: number): Promise<void> {
  const stack = await startBenchStack({ cluster: true, orchestratorProcesses: 2 });
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  const pods: Pod[] = [];
  try {
    // Warm: the orchestrators have run workflows, the server has loaded what a start touches.
    await timedStarts(stack, 'fleet-warm', 2);
    const lone = await bootPod(stack, 'fleet-lone');
    await configure(lone.w, stack.request(lone.slot.pgPort));
    pods.push(lone);
    await new Promise((r) => setTimeout(r, 5_000));
    const serverBefore = await serverMemory(stack);

    // Starts with one idle compute beside them.
    const startsAt1 = await timedStarts(stack, 'fleet-at1', STARTS);
    process.stderr.write(`bench: fleet: start with 1 idle compute p50 ${median(startsAt1).toFixed(0)} ms\n`);

    // N idle computes: pods booted a few at a time, each configured to running.
    while (pods.length < n) {
      const batch = await Promise.all(Array.from({ length: Math.min(5, n - pods.length) }, (_, i) => bootPod(stack, `fleet-${pods.length + i}`)));
      for (const p of batch) await configure(p.w, stack.request(p.slot.pgPort));
      pods.push(...batch);
      process.stderr.write(`bench: fleet: ${pods.length}/${n} computes running\n`);
    }
    await new Promise((r) => setTimeout(r, 15_000)); // the last reports and migrations settle

    const before = await stack.cluster!.frontendRequests();
    process.stderr.write(`bench: fleet: watching ${n} idle computes for ${WINDOW_S} s\n`);
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const after = await stack.cluster!.frontendRequests();
    // After the window: these calls are the bench's own.
    const polls: number[] = [];
    for (const p of pods) {
      const d = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueueFor(p.slot.computeId) }, taskQueueType: ACTIVITY });
      polls.push(d.pollers?.length ?? 0);
    }
    const others = [...after].filter(([op]) => !op.startsWith('Poll')).reduce((sum, [op, c]) => sum + c - (before.get(op) ?? 0), 0);
    const otherOps = [...after].filter(([op, c]) => !op.startsWith('Poll') && c > (before.get(op) ?? 0)).map(([op, c]) => `${op}+${c - (before.get(op) ?? 0)}`);
    const serverAfter = await serverMemory(stack);
    const podRss: number[] = [];
    for (const p of pods) podRss.push(await rssMb(p.w.pid));
    const orchestratorRss: number[] = [];
    for (const pid of stack.orchestratorPids) orchestratorRss.push(await rssMb(pid));
    const floor = await floorRssMb(stack.temporal.address);

    const startsAtN = await timedStarts(stack, 'fleet-atn', STARTS);
    const [s1, sN] = [median(startsAt1), median(startsAtN)];
    const pod = median(podRss);
    const perCompute = {
      polls: polls.reduce((a, b) => a + b, 0) / n,
      requestsPerMin: others / n / (WINDOW_S / 60),
      serverMb: (serverAfter.total - serverBefore.total) / n,
      serverLiveMb: (serverAfter.live - serverBefore.live) / n,
    };
    console.log(`\n${n} idle computes (pods with Postgres running) and 2 orchestrators on temporal-server v1.29.1 (PostgreSQL), ${machine()}`);
    console.log(`long polls per compute (DescribeTaskQueue pollers)         ${perCompute.polls.toFixed(2)}   (target ≤ 1)`);
    console.log(`frontend requests per compute per minute, polls aside       ${perCompute.requestsPerMin.toFixed(3)}   (target 0)${otherOps.length ? `: ${otherOps.join(', ')}` : ''}`);
    console.log(`Temporal services' RSS per compute                          ${perCompute.serverMb.toFixed(2)} MB, live (heap after a GC, stacks) ${perCompute.serverLiveMb.toFixed(2)} MB   (target ≤ 0.5)`);
    console.log(`  MB before: ${serverBefore.each}`);
    console.log(`  MB after:  ${serverAfter.each}`);
    console.log(`pod RSS (median) vs its floor (Fastify + activity worker)   ${pod.toFixed(0)} vs ${floor.toFixed(0)} MB: ${(pod / floor).toFixed(2)}×   (target ≤ 1.15×)`);
    console.log(`orchestrator RSS                                            ${orchestratorRss.map((r) => r.toFixed(0)).join(', ')} MB`);
    console.log(`start p50 with ${n} idle computes vs with 1                   ${sN.toFixed(0)} vs ${s1.toFixed(0)} ms: ${(sN / s1).toFixed(2)}×   (target ≤ 1.1×)`);
    benchLine('fleet', {
      n,
      polls_per_compute: perCompute.polls,
      requests_per_compute_per_min: perCompute.requestsPerMin,
      server_mb_per_compute: perCompute.serverMb,
      server_live_mb_per_compute: perCompute.serverLiveMb,
      server_rss_before_mb: serverBefore.total,
      server_rss_after_mb: serverAfter.total,
      pod_rss_mb: pod,
      pod_rss_p90_mb: quantile(podRss, 0.9),
      pod_floor_mb: floor,
      pod_to_floor: pod / floor,
      orchestrator_rss_mb: Math.max(...orchestratorRss),
      start_at_1_p50_ms: s1,
      start_at_n_p50_ms: sN,
      start_ratio: sN / s1,
    });
  } finally {
    for (const p of pods) await stopPod(stack, p).catch(() => undefined);
    await connection.close();
    await stack.stop();
  }
}
