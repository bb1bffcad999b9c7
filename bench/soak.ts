// `npm run bench -- soak [minutes]` (default 10): one compute kept busy for a bounded time — a
// reconfiguration every few seconds, /status load all along, its Postgres killed now and then (the
// compute fails, is terminated, and its worker is started again for the same compute id, as a pod
// restart does) — reporting what long uptime would show: resident memory growth, the lifecycle's
// history length (continue-as-new keeps it bounded), open file descriptors, and every error.
import { lifecycleWorkflowId } from '../src/compute/ids';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { livePostmasterPid } from '../src/postgres/postmaster';
import { benchLine, benchSlot, configure, machine, spawnBenchWorker, startBenchStack, waitForStatus, type BenchWorker } from './common';

const RECONFIGURE_EVERY_MS = 3_000;
/** Postgres is killed twice in a run (at least a minute apart): three worker lifetimes to compare. */
const killEveryMs = (minutes: number) => Math.max(60_000, (minutes * 60_000) / 3);
const STATUS_CONCURRENCY = 4;

async function rssMb(pid: number): Promise<number> {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

const fds = async (pid: number): Promise<number> => (await readdir(`/proc/${pid}/fd`)).length;

export async function benchSoak(minutes: number): Promise<void> {
  const stack = await startBenchStack();
  const slot = await benchSlot(stack, 'soak');
  const errors: string[] = [];
  const note = (what: string, err: unknown) => {
    errors.push(`${what}: ${(err as Error).message ?? err}`);
    process.stderr.write(`bench: soak: ${errors.at(-1)}\n`);
  };
  const samples: { pid: number; rss: number; fds: number }[] = [];
  let reconfigurations = 0;
  let statusRequests = 0;
  let restarts = 0;
  let maxHistory = 0;
  let w: BenchWorker = spawnBenchWorker(stack, slot);
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  const end = performance.now() + minutes * 60_000;
  const running = () => performance.now() < end;
  const request = (roles: number) => {
    const body = stack.request(slot.pgPort) as { spec: { cluster: { roles: unknown[] } } };
    body.spec.cluster.roles = [
      ...body.spec.cluster.roles,
      ...Array.from({ length: roles }, (_, i) => ({ name: `soak_${i}`, encrypted_password: null, options: null })),
    ];
    return body;
  };
  try {
    await waitForStatus(w, performance.now());
    await configure(w, request(0));
    const agent = new http.Agent({ keepAlive: true, maxSockets: STATUS_CONCURRENCY });
    const load = Array.from({ length: STATUS_CONCURRENCY }, async () => {
      while (running()) {
        await new Promise<void>((resolve) => {
          http.get(`${w.api}/status`, { agent }, (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode !== 200) note('/status', new Error(`answered ${res.statusCode}`));
              statusRequests++;
              resolve();
            });
          }).on('error', () => resolve()); // the worker is being restarted
        });
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    let lastKill = performance.now();
    let round = 0;
    while (running()) {
      await new Promise((r) => setTimeout(r, RECONFIGURE_EVERY_MS));
      if (performance.now() - lastKill > killEveryMs(minutes)) {
        lastKill = performance.now();
        // Postgres dies: the compute fails; the control plane terminates it; the pod restarts.
        const pid = await livePostmasterPid(slot.pgdata);
        if (pid) process.kill(pid, 'SIGKILL');
        await waitForStatus(w, performance.now(), (b) => b.status === 'failed', 30_000).catch((err) => note('failed after the kill', err));
        await fetch(`${w.api}/terminate?mode=immediate`, { method: 'POST' }).catch((err) => note('/terminate', err));
        await new Promise((r) => setTimeout(r, 1_000));
        w.kill('SIGTERM');
        await w.exited;
        w = spawnBenchWorker(stack, slot);
        await waitForStatus(w, performance.now(), (b) => b.status === 'empty').catch((err) => note('a new lifecycle', err));
        await configure(w, request(0)).catch((err) => note('/configure after the restart', err));
        restarts++;
        continue;
      }
      await configure(w, request(++round % 5)).then(
        () => reconfigurations++,
        (err) => note('/configure', err),
      );
      samples.push({ pid: w.pid, rss: await rssMb(w.pid), fds: await fds(w.pid) });
      const described = await client.workflow.getHandle(lifecycleWorkflowId(slot.computeId)).describe().catch(() => null);
      maxHistory = Math.max(maxHistory, described?.historyLength ?? 0);
    }
    await Promise.all(load);
    agent.destroy();
  } finally {
    w.kill();
    await connection.close();
    await stack.stopPostgres(slot.pgdata);
    await stack.stop();
  }
  // Growth within the longest-lived worker process, from its third sample (warmed up) to its last.
  const byPid = new Map<number, typeof samples>();
  for (const sample of samples) byPid.set(sample.pid, [...(byPid.get(sample.pid) ?? []), sample]);
  const longest = [...byPid.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  const first = longest[Math.min(2, longest.length - 1)] ?? { rss: 0, fds: 0 };
  const last = longest.at(-1) ?? first;
  console.log(`\nsoak, ${minutes} min, ${machine()}`);
  console.log(`reconfigurations ${reconfigurations}, /status ${statusRequests}, Postgres killed and the worker restarted ${restarts}×`);
  console.log(`longest-lived worker (${longest.length} samples): RSS ${first.rss.toFixed(0)} → ${last.rss.toFixed(0)} MB, fds ${first.fds} → ${last.fds}; lifecycle history at most ${maxHistory} events`);
  console.log(errors.length ? `errors:\n  ${errors.join('\n  ')}` : 'no errors');
  benchLine('soak', {
    minutes,
    reconfigurations,
    status_requests: statusRequests,
    restarts,
    rss_start_mb: first.rss,
    rss_end_mb: last.rss,
    fds_start: first.fds,
    fds_end: last.fds,
    max_history_events: maxHistory,
    errors: errors.length,
  });
}
