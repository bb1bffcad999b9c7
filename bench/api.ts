// `npm run bench -- api [N]`: N requests to /status at concurrency 20 on a running compute
// (p50, p99, throughput), against a bare node:http server answering the same bytes (the floor); N
// /metrics; then the worker is killed (-9) and restarted, and the first /status of the new process is
// timed (exec → 200, and that request alone); last, N /status each with a JWT the worker verifies.
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { devKeys } from '../src/dev/keys';
import { performance } from 'node:perf_hooks';
import { benchLine, benchSlot, configure, machine, quantile, spawnBenchWorker, startBenchStack, waitForStatus } from './common';

const CONCURRENCY = 20;

/** N GETs of `target` at concurrency 20 over keep-alive node:http (lighter than fetch, which shares the 2 cores). */
async function load(target: string, n: number, headers: Record<string, string> = {}): Promise<{ latencies: number[]; elapsed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = new URL(target);
  const get = () =>
    new Promise<void>((resolve, reject) => {
      http.get({ host: url.hostname, port: url.port, path: url.pathname, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url.pathname} answered ${res.statusCode}`))));
      }).on('error', reject);
    });
  for (let i = 0; i < 100; i++) await get(); // warm-up
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < n) {
        const s = performance.now();
        await get();
        latencies.push(performance.now() - s);
      }
    }),
  );
  agent.destroy();
  return { latencies, elapsed: performance.now() - t0 };
}

const BARE_SERVER = `
const body = process.env.BODY;
require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });
`;

/** Runs `fn` against a bare node:http server (own process, the worker's V8 flags) that answers `body`. */
async function bareServer<T>(body: string, fn: (url: string) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ['--optimize-for-size', '--max-semi-space-size=2', '-e', BARE_SERVER], { env: { ...process.env, BODY: body }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child.once('exit', () => reject(new Error('the bare server exited')));
    });
    return await fn(`http://127.0.0.1:${port}/status`);
  } finally {
    child.kill();
  }
}

export async function benchApi(n: number): Promise<void> {
  const stack = await startBenchStack();
  const slot = await benchSlot(stack, 'api');
  let w = spawnBenchWorker(stack, slot);
  const latencies: number[] = [];
  let elapsed = 0;
  let restartExec = 0;
  let restartRequest = 0;
  let floor = { latencies: [] as number[], elapsed: 0 };
  let authed = { latencies: [] as number[], elapsed: 0 };
  let metrics = { latencies: [] as number[], elapsed: 0 };
  try {
    await waitForStatus(w, performance.now());
    await configure(w, stack.request(slot.pgPort));
    // At rest: the first start's background work (migrations, the extension statistics) is done.
    await new Promise((r) => setTimeout(r, 3000));
    const run = await load(`${w.api}/status`, n);
    latencies.push(...run.latencies);
    elapsed = run.elapsed;
    metrics = await load(`${w.api}/metrics`, n);
    // The floor: a bare node:http server in its own process answering the same bytes.
    const body = await (await fetch(`${w.api}/status`)).text();
    floor = await bareServer(body, (url) => load(url, n));

    // A worker restart: Postgres keeps running, the new process answers /status from the memo at once.
    w.kill();
    await w.exited;
    const r0 = performance.now();
    w = spawnBenchWorker(stack, slot);
    restartExec = await waitForStatus(w, r0, (body) => body.status === 'running');
    const q0 = performance.now();
    await (await fetch(`${w.api}/status`)).arrayBuffer();
    restartRequest = performance.now() - q0;

    // With JWT keys (as in production): every /status carries a token the worker verifies (§6.2).
    w.kill();
    await w.exited;
    const keys = await devKeys(path.join(stack.tmp, 'keys'));
    w = spawnBenchWorker(stack, slot, {}, { configPath: keys.configPath, token: keys.adminToken });
    await waitForStatus(w, performance.now(), (body) => body.status === 'running');
    // Settled: /status answers from the kept view at once, while Temporal's modules still load.
    await new Promise((r) => setTimeout(r, 3000));
    authed = await load(`${w.api}/status`, n, w.headers);
  } finally {
    w.kill();
    await stack.stopPostgres(slot.pgdata);
    await stack.stop();
  }
  const rps = (n / elapsed) * 1000;
  const floorRps = (n / floor.elapsed) * 1000;
  console.log(`\n/status, ${n} requests at concurrency ${CONCURRENCY}, running compute, ${machine()}`);
  console.log(`p50 ${quantile(latencies, 0.5).toFixed(1)} ms   p99 ${quantile(latencies, 0.99).toFixed(1)} ms   ${rps.toFixed(0)} req/s`);
  console.log(`floor (bare node:http, same bytes): p50 ${quantile(floor.latencies, 0.5).toFixed(1)} ms   p99 ${quantile(floor.latencies, 0.99).toFixed(1)} ms   ${floorRps.toFixed(0)} req/s`);
  console.log(`with a JWT (EdDSA) on each: p50 ${quantile(authed.latencies, 0.5).toFixed(1)} ms   p99 ${quantile(authed.latencies, 0.99).toFixed(1)} ms   ${((n / authed.elapsed) * 1000).toFixed(0)} req/s`);
  console.log(`/metrics: p50 ${quantile(metrics.latencies, 0.5).toFixed(1)} ms   p99 ${quantile(metrics.latencies, 0.99).toFixed(1)} ms   ${((n / metrics.elapsed) * 1000).toFixed(0)} req/s`);
  console.log(`after kill -9 and restart: exec → /status 200 ${restartExec.toFixed(0)} ms; a /status then ${restartRequest.toFixed(1)} ms`);
  benchLine('api', {
    status_p50_ms: quantile(latencies, 0.5),
    status_p99_ms: quantile(latencies, 0.99),
    status_rps: rps,
    floor_p50_ms: quantile(floor.latencies, 0.5),
    floor_p99_ms: quantile(floor.latencies, 0.99),
    floor_rps: floorRps,
    p99_ratio_to_floor: quantile(latencies, 0.99) / quantile(floor.latencies, 0.99),
    authenticated_p50_ms: quantile(authed.latencies, 0.5),
    authenticated_p99_ms: quantile(authed.latencies, 0.99),
    metrics_p50_ms: quantile(metrics.latencies, 0.5),
    metrics_p99_ms: quantile(metrics.latencies, 0.99),
    restart_exec_to_status_ms: restartExec,
    restart_status_ms: restartRequest,
  });
}
