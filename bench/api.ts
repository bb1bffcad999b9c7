// `npm run bench -- api [N]`: N requests to /status at concurrency 20 on a running compute
// (p50, p99, throughput); then the worker is killed (-9) and restarted, and the first /status of the
// new process is timed (exec → 200, and that request alone).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { benchLine, benchSlot, configure, machine, quantile, spawnBenchWorker, startBenchStack, waitForStatus } from './common';

const CONCURRENCY = 20;

export async function benchApi(n: number): Promise<void> {
  const stack = await startBenchStack();
  const slot = await benchSlot(stack, 'api');
  let w = spawnBenchWorker(stack, slot);
  const latencies: number[] = [];
  let elapsed = 0;
  let restartExec = 0;
  let restartRequest = 0;
  try {
    await waitForStatus(w, performance.now());
    await configure(w, stack.request(slot.pgPort));
    for (let i = 0; i < 100; i++) await fetch(`${w.api}/status`).then((r) => r.arrayBuffer()); // warm-up
    // node:http with keep-alive: a lighter load generator than fetch, which shares the 2 cores.
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const url = new URL(`${w.api}/status`);
    const get = () =>
      new Promise<void>((resolve, reject) => {
        http.get({ host: url.hostname, port: url.port, path: url.pathname, agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`/status answered ${res.statusCode}`))));
        }).on('error', reject);
      });
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
    elapsed = performance.now() - t0;

    // A worker restart: Postgres keeps running, the new process answers /status from the memo at once.
    w.kill();
    await w.exited;
    const r0 = performance.now();
    w = spawnBenchWorker(stack, slot);
    restartExec = await waitForStatus(w, r0, (body) => body.status === 'running');
    const q0 = performance.now();
    await (await fetch(`${w.api}/status`)).arrayBuffer();
    restartRequest = performance.now() - q0;
  } finally {
    w.kill();
    await stack.stopPostgres(slot.pgdata);
    await stack.stop();
  }
  const rps = (n / elapsed) * 1000;
  console.log(`\n/status, ${n} requests at concurrency ${CONCURRENCY}, running compute, ${machine()}`);
  console.log(`p50 ${quantile(latencies, 0.5).toFixed(1)} ms   p99 ${quantile(latencies, 0.99).toFixed(1)} ms   ${rps.toFixed(0)} req/s`);
  console.log(`after kill -9 and restart: exec → /status 200 ${restartExec.toFixed(0)} ms; a /status then ${restartRequest.toFixed(1)} ms`);
  benchLine('api', {
    status_p50_ms: quantile(latencies, 0.5),
    status_p99_ms: quantile(latencies, 0.99),
    status_rps: rps,
    restart_exec_to_status_ms: restartExec,
    restart_status_ms: restartRequest,
  });
}
