// /promote in the lifecycle workflow, with fake activities: who may be promoted, one promotion for
// concurrent calls, a failure answered with its reason and tried again on the next call.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ComputeFailure, FAILURE } from '../../src/compute/failures';
import { parseComputeSpec } from '../../src/compute-spec/parse';
import { fakeCompute, type FakeCompute } from '../support/fake-activities';
import { newComputeId, useWorkflowEnv, withWorker, type WorkflowEnv } from '../support/workflow-env';

const spec = (mode: 'Primary' | 'Replica') =>
  parseComputeSpec({
    format_version: 1,
    suspend_timeout_seconds: -1,
    mode,
    storage: { type: 'postgres', connstring: 'postgresql://nobody@127.0.0.1:1/postgres' },
    cluster: { roles: [], databases: [], postgresql_conf: 'port=5433\nshared_buffers=1MB\n' },
  });

async function withRunning(env: WorkflowEnv, fake: FakeCompute, mode: 'Primary' | 'Replica', fn: (id: string) => Promise<void>) {
  const id = newComputeId('promote');
  await withWorker(env, id, fake.activities, async () => {
    await env.computes.ensureStarted(id);
    await env.computes.configure(id, spec(mode));
    await fn(id);
  });
}

describe('promotion (fake activities)', () => {
  const env = useWorkflowEnv();
  const primary = { ...spec('Primary'), spec: { ...spec('Primary').spec, cluster: { roles: [], databases: [], postgresql_conf: 'port=6000\nneon.safekeepers=x\nwork_mem=4MB\n' } } };

  test('a Replica: promoted once for concurrent calls, then reconfigured as the Primary, keeping its port', async () => {
    const fake = fakeCompute();
    await withRunning(env, fake, 'Replica', async (id) => {
      const answers = await Promise.all([env.computes.promote(id, primary, '0/16B37F0'), env.computes.promote(id, primary, '0/16B37F0')]);
      assert.deepEqual(answers, [{ status: 'completed' }, { status: 'completed' }]);
      assert.equal(fake.count('promoteReplica'), 1);
      assert.deepEqual(fake.calls.promoteReplica[0][0], { walFlushLsn: '0/16B37F0', safekeepers: null });
      const applied = fake.calls.reloadConfig.at(-1)![0] as typeof primary;
      assert.equal(applied.mode.type, 'primary');
      assert.equal(applied.spec.cluster.postgresql_conf, 'work_mem=4MB\nport=5433\n');
      const status = await env.computes.status(id);
      assert.deepEqual([status.mode, status.status], ['primary', 'running']);
    });
  });

  test('a Primary is not promoted', async () => {
    const fake = fakeCompute();
    await withRunning(env, fake, 'Primary', async (id) => {
      assert.deepEqual(await env.computes.promote(id, primary, '0/1'), { status: 'failed', error: 'primary is not replica' });
      assert.equal(fake.count('promoteReplica'), 0);
    });
  });

  test('a failed promotion answers with its reason, leaves the compute a running Replica, and may be tried again', async () => {
    let fail = true;
    const fake = fakeCompute({
      promoteReplica: async () => {
        if (fail) throw ComputeFailure.permanent(FAILURE.promotionFailed, "didn't catch up with primary in 20 retries");
      },
    });
    await withRunning(env, fake, 'Replica', async (id) => {
      const failed = await env.computes.promote(id, primary, '0/1');
      assert.equal(failed.status, 'failed');
      assert.match((failed as { error: string }).error, /didn't catch up with primary in 20 retries/);
      const status = await env.computes.status(id);
      assert.deepEqual([status.mode, status.status], ['replica', 'running']);
      fail = false;
      assert.deepEqual(await env.computes.promote(id, primary, '0/1'), { status: 'completed' });
      assert.equal(fake.count('promoteReplica'), 2);
    });
  });
});
