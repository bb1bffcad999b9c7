// `npm run bench -- boot [N]`: exec of `compute-ctl worker` → the first /status 200, N times, and the
// worker's resident memory while its compute is empty and while it runs.
import { performance } from 'node:perf_hooks';
import { benchLine, benchSlot, configure, machine, quantile, rssMb, spawnBenchWorker, startBenchStack, waitForStatus } from './common';

export async function benchBoot(n: number): Promise<void> {
  const stack = await startBenchStack();
  const boots: number[] = [];
  const empty: number[] = [];
  const running: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const slot = await benchSlot(stack, 'boot');
      const t0 = performance.now();
      const w = spawnBenchWorker(stack, slot);
      try {
        boots.push(await waitForStatus(w, t0));
        await new Promise((r) => setTimeout(r, 2000)); // settled: the Temporal worker is up and idle
        empty.push(await rssMb(w.pid));
        if (i < 3) {
          await configure(w, stack.request(slot.pgPort));
          await new Promise((r) => setTimeout(r, 1000));
          running.push(await rssMb(w.pid));
        }
        process.stderr.write(`bench: boot ${i + 1}/${n}: ${boots.at(-1)!.toFixed(0)} ms to /status, ${empty.at(-1)!.toFixed(0)} MB empty\n`);
      } finally {
        w.kill();
        await stack.stopPostgres(slot.pgdata);
      }
    }
  } finally {
    await stack.stop();
  }
  console.log(`\nworker boot, ${n} runs, ${machine()}`);
  console.log(`exec → first /status 200   p50 ${quantile(boots, 0.5).toFixed(0)} ms   p90 ${quantile(boots, 0.9).toFixed(0)} ms`);
  console.log(`RSS                        empty ${quantile(empty, 0.5).toFixed(0)} MB   running ${quantile(running, 0.5).toFixed(0)} MB`);
  benchLine('boot', {
    exec_to_status_p50_ms: quantile(boots, 0.5),
    exec_to_status_p90_ms: quantile(boots, 0.9),
    rss_empty_mb: quantile(empty, 0.5),
    rss_running_mb: quantile(running, 0.5),
  });
}
