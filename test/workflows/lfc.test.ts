// LFC prewarm and offload in the lifecycle workflow (§6.3, §8.4), with fake activities: autoprewarm
// at a start, one request of a kind at a time (429), cancellation, /promote refused while a prewarm
// runs, the periodic offload and the prewarm states that hold it back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ComputeError } from '../../src/compute/failures';
import { parseComputeSpec, type ParsedSpec } from '../../src/compute-spec/parse';
import { fakeCompute, type FakeCompute } from '../support/fake-activities';
import { until } from '../support/stack';
import { newComputeId, useWorkflowEnv, withWorker, type WorkflowEnv } from '../support/workflow-env';

const spec = (mode: 'Primary' | 'Replica', extra: Record<string, unknown> = {}): ParsedSpec =>
  parseComputeSpec({
    format_version: 1,
    suspend_timeout_seconds: -1,
    mode,
    storage: { type: 'postgres', connstring: 'postgresql://nobody@127.0.0.1:1/postgres' },
    cluster: { roles: [], databases: [], postgresql_conf: 'port=5433\n' },
    endpoint_id: 'ep-1',
    ...extra,
  });

async function withRunning(env: WorkflowEnv, fake: FakeCompute, given: ParsedSpec, fn: (id: string) => Promise<void>) {
  const id = newComputeId('lfc');
  await withWorker(env, id, fake.activities, async () => {
    await env.computes.ensureStarted(id);
    assert.equal((await env.computes.configure(id, given)).status, 'running');
    await fn(id);
  });
}

const refusal = async (p: Promise<unknown>): Promise<[string, string]> => {
  const err = await p.then(
    () => assert.fail('not refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ComputeError, String(err));
  return [err.kind, err.message];
};

/** A prewarm that runs until cancelled (it heartbeats through the test worker's wrapper). */
const untilCancelled = async () => {
  await Context.current().cancelled;
  throw new Error('unreachable');
};

describe('LFC prewarm and offload (fake activities)', () => {
  const env = useWorkflowEnv();

  test('autoprewarm runs once the compute is running; the states answer as Neon words them', async () => {
    const fake = fakeCompute();
    await withRunning(env, fake, spec('Primary', { autoprewarm: true }), async (id) => {
      const done = await until('autoprewarm completed', async () => {
        const s = await env.computes.lfcStates(id);
        return s.prewarm.status === 'completed' ? s : undefined;
      }, 30_000);
      assert.deepEqual(done.offload, { status: 'not_offloaded' });
      assert.equal(fake.count('prewarmLfc'), 1);
      const [input] = fake.calls.prewarmLfc[0] as [{ fromEndpoint: string | null; spec: ParsedSpec }];
      assert.equal(input.fromEndpoint, null);
      assert.equal(input.spec.spec.endpoint_id, 'ep-1');
    });
  });

  test('a second prewarm or offload while one runs is refused (429 texts); a compute without Postgres refuses both (412)', async () => {
    const empty = newComputeId('lfc-empty');
    await withWorker(env, empty, fakeCompute().activities, async () => {
      await env.computes.ensureStarted(empty);
      assert.deepEqual(await refusal(env.computes.prewarmLfc(empty, null)), ['invalid_status', 'invalid compute status: empty']);
      assert.deepEqual(await refusal(env.computes.offloadLfc(empty)), ['invalid_status', 'invalid compute status: empty']);
    });

    const fake = fakeCompute();
    await withRunning(env, fake, spec('Primary'), async (id) => {
      const prewarm = fake.hold('prewarmLfc');
      const offload = fake.hold('offloadLfc');
      assert.deepEqual(await env.computes.prewarmLfc(id, 'ep-primary'), { status: 'prewarming' });
      assert.deepEqual(await env.computes.offloadLfc(id), { status: 'offloading' });
      await Promise.all([prewarm.reached, offload.reached]);
      assert.deepEqual(await refusal(env.computes.prewarmLfc(id, null)), ['in_progress', 'Multiple requests for prewarm are not allowed']);
      assert.deepEqual(await refusal(env.computes.offloadLfc(id)), ['in_progress', 'Multiple requests for prewarm offload are not allowed']);
      prewarm.release();
      offload.release();
      const s = await until('both done', async () => {
        const now = await env.computes.lfcStates(id);
        return now.prewarm.status === 'completed' && now.offload.status === 'completed' ? now : undefined;
      }, 30_000);
      assert.equal((s.prewarm as { total: number }).total, 3);
      assert.equal((fake.calls.prewarmLfc[0][0] as { fromEndpoint: string }).fromEndpoint, 'ep-primary');
      // Done: the next request is taken.
      assert.deepEqual(await env.computes.offloadLfc(id), { status: 'offloading' });
    });
  });

  test('DELETE cancels a running prewarm (cancelled once the activity stopped); a failure is the failed state with its text', async () => {
    let mode: 'hang' | 'fail' = 'hang';
    const fake = fakeCompute({
      prewarmLfc: async () => {
        if (mode === 'fail') throw ApplicationFailure.nonRetryable('404 Not Found querying endpoint storage');
        return untilCancelled();
      },
    });
    await withRunning(env, fake, spec('Primary'), async (id) => {
      // Nothing runs: a DELETE does nothing.
      assert.deepEqual(await env.computes.cancelLfcPrewarm(id), { status: 'not_prewarmed' });
      await env.computes.prewarmLfc(id, null);
      await until('the prewarm runs', async () => (fake.count('prewarmLfc') === 1 ? true : undefined), 30_000);
      await env.computes.cancelLfcPrewarm(id);
      await until('cancelled', async () => ((await env.computes.lfcStates(id)).prewarm.status === 'cancelled' ? true : undefined), 30_000);
      mode = 'fail';
      await env.computes.prewarmLfc(id, null);
      const failed = await until('failed', async () => {
        const p = (await env.computes.lfcStates(id)).prewarm;
        return p.status === 'failed' ? p : undefined;
      }, 30_000);
      assert.deepEqual(failed, { status: 'failed', error: '404 Not Found querying endpoint storage' });
    });
  });

  test('/promote is refused while a prewarm runs, and goes ahead once it has ended', async () => {
    const fake = fakeCompute();
    const primary = spec('Primary');
    await withRunning(env, fake, spec('Replica'), async (id) => {
      const prewarm = fake.hold('prewarmLfc');
      await env.computes.prewarmLfc(id, 'ep-primary');
      await prewarm.reached;
      assert.deepEqual(await env.computes.promote(id, primary, '0/1'), { status: 'failed', error: 'compute Prewarming' });
      assert.equal(fake.count('promoteReplica'), 0);
      prewarm.release();
      await until('prewarmed', async () => ((await env.computes.lfcStates(id)).prewarm.status === 'completed' ? true : undefined), 30_000);
      assert.deepEqual(await env.computes.promote(id, primary, '0/1'), { status: 'completed' });
    });
  });

  test('offload_lfc_interval_seconds: rounds on a timer, none while the last prewarm failed, none once a reconfiguration drops the interval', async () => {
    let failPrewarm = false;
    const fake = fakeCompute({
      prewarmLfc: async () => {
        if (failPrewarm) throw ApplicationFailure.nonRetryable('endpoint storage unreachable');
        return { status: 'skipped' };
      },
    });
    await withRunning(env, fake, spec('Primary', { offload_lfc_interval_seconds: 1, autoprewarm: true }), async (id) => {
      await until('two periodic offloads', async () => (fake.count('offloadLfc') >= 2 ? true : undefined), 30_000);
      assert.equal((await env.computes.lfcStates(id)).prewarm.status, 'skipped');
      await until('the offload state reported', async () => ((await env.computes.lfcStates(id)).offload.status === 'completed' ? true : undefined), 30_000);

      // A failed prewarm holds the rounds back: the stored state is not replaced by a partial one.
      failPrewarm = true;
      await env.computes.prewarmLfc(id, null);
      await until('prewarm failed', async () => ((await env.computes.lfcStates(id)).prewarm.status === 'failed' ? true : undefined), 30_000);
      const held = fake.count('offloadLfc');
      await new Promise((r) => setTimeout(r, 2_500));
      assert.ok(fake.count('offloadLfc') <= held + 1, `offloads went on after the failed prewarm: ${held} → ${fake.count('offloadLfc')}`);

      // A reconfiguration without the interval ends the rounds.
      await env.computes.configure(id, spec('Primary'));
      const before = fake.count('offloadLfc');
      await new Promise((r) => setTimeout(r, 2_500));
      assert.ok(fake.count('offloadLfc') <= before + 1, 'rounds went on without offload_lfc_interval_seconds');

      await env.computes.terminate(id, 'immediate');
    });
  });
});
