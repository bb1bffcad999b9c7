// `npm run bench -- boot [N]`: exec of `compute-ctl worker` → the first /status 200, N times, and the
// worker's resident memory while its compute is empty and while it runs. Beside each boot, its floor:
// exec of a bare Node process with Fastify listening (boot-floor.ts) → its first /status 200.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../src/dev/ports';
import { benchLine, benchSlot, configure, machine, quantile, rssMb, spawnBenchWorker, startBenchStack, waitForStatus } from './common';

/** exec → first /status 200 of the bare Fastify process, in ms. */
async function bootFloor(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(process.execPath, [path.join(__dirname, 'boot-floor.js'), String(port)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    return await waitForStatus({ pid: proc.pid!, api: `http://127.0.0.1:${port}`, headers: {}, exited, kill: (signal = 'SIGKILL') => proc.kill(signal) }, t0);
  } finally {
    proc.kill('SIGKILL');
    await exited;
  }
}

export async function benchBoot(n: number): Promise<void> {
  const stack = await startBenchStack();
  const boots: number[] = [];
  const floors: number[] = [];
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
        floors.push(await bootFloor());
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
  console.log(`floor: bare Node + Fastify   p50 ${quantile(floors, 0.5).toFixed(0)} ms   p90 ${quantile(floors, 0.9).toFixed(0)} ms   (the worker: ${(quantile(boots, 0.5) / quantile(floors, 0.5)).toFixed(2)}× it)`);
  console.log(`RSS                        empty ${quantile(empty, 0.5).toFixed(0)} MB   running ${quantile(running, 0.5).toFixed(0)} MB`);
  benchLine('boot', {
    exec_to_status_p50_ms: quantile(boots, 0.5),
    exec_to_status_p90_ms: quantile(boots, 0.9),
    floor_p50_ms: quantile(floors, 0.5),
    ratio_to_floor: quantile(boots, 0.5) / quantile(floors, 0.5),
    rss_empty_mb: quantile(empty, 0.5),
    rss_running_mb: quantile(running, 0.5),
  });
}
