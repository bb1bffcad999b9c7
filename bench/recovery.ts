// `npm run bench -- recovery [N]`: a worker killed (-9) in the middle of a start (mid-basebackup), a
// new worker exec'd at once: how long from that exec until the compute is running.
import { performance } from 'node:perf_hooks';
import { benchLine, benchSlot, configure, machine, quantile, spawnBenchWorker, startBenchStack, waitForStatus } from './common';

export async function benchRecovery(n: number): Promise<void> {
  const stack = await startBenchStack();
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const slot = await benchSlot(stack, 'recovery');
      const dying = spawnBenchWorker(stack, slot, { COMPUTE_CTL_FAILPOINTS: 'fetchBasebackup-mid=kill' });
      await waitForStatus(dying, performance.now());
      void configure(dying, stack.request(slot.pgPort)).catch(() => undefined);
      await dying.exited;
      const t0 = performance.now();
      const w = spawnBenchWorker(stack, slot);
      try {
        times.push(await waitForStatus(w, t0, (body) => body.status === 'running'));
        process.stderr.write(`bench: recovery ${i + 1}/${n}: ${times.at(-1)!.toFixed(0)} ms\n`);
      } finally {
        w.kill();
        await stack.stopPostgres(slot.pgdata);
      }
    }
  } finally {
    await stack.stop();
  }
  console.log(`\nkill -9 mid-basebackup, restart → running, ${n} runs, ${machine()}: p50 ${quantile(times, 0.5).toFixed(0)} ms, p90 ${quantile(times, 0.9).toFixed(0)} ms`);
  benchLine('recovery', { restart_to_running_p50_ms: quantile(times, 0.5), restart_to_running_p90_ms: quantile(times, 0.9) });
}
