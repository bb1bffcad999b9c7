// `npm run bench -- recovery [N]`: a pod killed (-9) in the middle of a start (mid-basebackup), a
// new pod exec'd at once. How long from that exec until the new pod has taken the interrupted step
// over (its next attempt started there, read from the startup workflow), and until the compute runs.
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { startupWorkflowId } from '../src/compute/ids';
import { benchLine, benchSlot, configure, machine, quantile, spawnBenchWorker, startBenchStack, waitForStatus } from './common';

export async function benchRecovery(n: number): Promise<void> {
  const stack = await startBenchStack();
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  const takeover: number[] = [];
  const running: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const slot = await benchSlot(stack, 'recovery');
      const dying = spawnBenchWorker(stack, slot, { COMPUTE_CTL_FAILPOINTS: 'fetchBasebackup-mid=kill' });
      await waitForStatus(dying, performance.now());
      void configure(dying, stack.request(slot.pgPort)).catch(() => undefined);
      await dying.exited;
      const execAt = Date.now();
      const t0 = performance.now();
      const w = spawnBenchWorker(stack, slot);
      try {
        // The step's next attempt, started in the new pod (its first attempt died with the old one).
        const startup = client.workflow.getHandle(startupWorkflowId(slot.computeId, 1));
        for (;;) {
          const d = await startup.describe();
          const step = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'fetchBasebackup');
          const startedAt = step?.lastStartedTime ? tsToMs(step.lastStartedTime) : 0;
          if (!step || ((step.attempt ?? 1) >= 2 && startedAt >= execAt)) {
            // Gone from the pending list: it already completed in the new pod (its start is then the history's).
            takeover.push(step ? startedAt - execAt : performance.now() - t0);
            break;
          }
          if (performance.now() - t0 > 60_000) throw new Error('the new pod did not take the basebackup over within 60 s');
          await new Promise((r) => setTimeout(r, 20));
        }
        running.push(await waitForStatus(w, t0, (body) => body.status === 'running'));
        process.stderr.write(`bench: recovery ${i + 1}/${n}: step taken over ${takeover.at(-1)!.toFixed(0)} ms after the exec, running after ${running.at(-1)!.toFixed(0)} ms\n`);
      } finally {
        w.kill();
        await stack.stopPostgres(slot.pgdata);
      }
    }
  } finally {
    await connection.close();
    await stack.stop();
  }
  console.log(`\nkill -9 of the pod mid-basebackup, a new pod exec'd at once, ${n} runs, ${machine()}`);
  console.log(`exec → the interrupted step's next attempt started in the new pod   p50 ${quantile(takeover, 0.5).toFixed(0)} ms   worst ${Math.max(...takeover).toFixed(0)} ms`);
  console.log(`exec → running                                                        p50 ${quantile(running, 0.5).toFixed(0)} ms   p90 ${quantile(running, 0.9).toFixed(0)} ms`);
  benchLine('recovery', {
    n,
    takeover_p50_ms: quantile(takeover, 0.5),
    takeover_max_ms: Math.max(...takeover),
    restart_to_running_p50_ms: quantile(running, 0.5),
    restart_to_running_p90_ms: quantile(running, 0.9),
  });
}
