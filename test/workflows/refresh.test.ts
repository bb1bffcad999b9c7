// §10 in the lifecycle workflow, with fake activities: Postgres asks for a refresh; the config is
// fetched again; the compute is reconfigured only when its storage source changed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ComputeFailure, FAILURE } from '../../src/compute/failures';
import { parseComputeSpec } from '../../src/compute-spec/parse';
import { ComputeError } from '../../src/client';
import { fakeCompute, type FakeCompute } from '../support/fake-activities';
import { until } from '../support/stack';
import { newComputeId, useWorkflowEnv, withWorker, type WorkflowEnv } from '../support/workflow-env';

const spec = (upstreamPort = 1) =>
  parseComputeSpec({
    format_version: 1,
    suspend_timeout_seconds: -1,
    storage: { type: 'postgres', connstring: `postgresql://nobody@127.0.0.1:${upstreamPort}/postgres` },
    cluster: { roles: [], databases: [] },
  });

async function withRunningCompute(env: WorkflowEnv, fake: FakeCompute, fn: (id: string) => Promise<void>): Promise<void> {
  const id = newComputeId('refresh');
  await withWorker(env, id, fake.activities, async () => {
    await env.computes.ensureStarted(id);
    assert.equal((await env.computes.configure(id, spec())).status, 'running');
    await fn(id);
  });
}

const statusOf = async (env: WorkflowEnv, id: string) => env.computes.status(id);

describe('refresh_configuration (fake activities)', () => {
  const env = useWorkflowEnv();

  test('the same storage source: back to running, no reconfiguration', async () => {
    const fake = fakeCompute({ fetchConfig: async () => ({ spec: spec() }) });
    await withRunningCompute(env, fake, async (id) => {
      assert.equal(await env.computes.refreshConfiguration(id), true);
      await until('fetched', async () => (fake.count('fetchConfig') === 1 && (await statusOf(env, id)).status === 'running' ? true : undefined));
      assert.equal(fake.count('reloadConfig'), 0, 'not reconfigured');
      assert.equal(fake.count('applyCatalog'), 1, 'only the first start applied the catalog');
    });
  });

  test('a changed storage source: reconfigured with the new spec, then running', async () => {
    const fake = fakeCompute({ fetchConfig: async () => ({ spec: spec(2) }) });
    await withRunningCompute(env, fake, async (id) => {
      await env.computes.refreshConfiguration(id);
      await until('reconfigured', async () => (fake.count('reloadConfig') === 1 && (await statusOf(env, id)).status === 'running' ? true : undefined));
      const applied = fake.calls.reloadConfig[0][0] as ReturnType<typeof spec>;
      assert.deepEqual(applied.storage, spec(2).storage);
    });
  });

  test('a failed fetch waits in refresh_configuration_pending with the reason; the next request succeeds', async () => {
    let fail = true;
    const fake = fakeCompute({
      fetchConfig: async () => {
        if (fail) throw ComputeFailure.permanent(FAILURE.configFetchFailed, 'control plane answered 500');
        return { spec: spec() };
      },
    });
    await withRunningCompute(env, fake, async (id) => {
      await env.computes.refreshConfiguration(id);
      const pending = await until('pending', async () => {
        const s = await statusOf(env, id);
        return s.status === 'refresh_configuration_pending' && s.error ? s : undefined;
      }, 30_000);
      assert.match(pending.error!, /control plane answered 500/);
      assert.equal(fake.count('fetchConfig'), 1, 'not retried until asked again');
      fail = false;
      await env.computes.refreshConfiguration(id);
      await until('running', async () => ((await statusOf(env, id)).status === 'running' ? true : undefined), 30_000);
      assert.equal(fake.count('fetchConfig'), 2);
    });
  });

  test('the control plane has no spec any more: the compute is terminated', async () => {
    const fake = fakeCompute({ fetchConfig: async () => ({ spec: null }) });
    await withRunningCompute(env, fake, async (id) => {
      await env.computes.refreshConfiguration(id);
      const ended = await until('terminated', async () => {
        const s = await statusOf(env, id);
        return s.status === 'terminated' ? s : undefined;
      });
      assert.match(ended.error ?? '', /no longer attached/);
      assert.equal(fake.count('stopPostgres'), 1);
    });
  });

  test('refused before the compute runs, with Neon\'s text', async () => {
    const fake = fakeCompute();
    const id = newComputeId('refresh');
    await withWorker(env, id, fake.activities, async () => {
      await env.computes.ensureStarted(id);
      const err = await env.computes.refreshConfiguration(id).then(() => assert.fail('accepted'), (e: unknown) => e);
      assert.ok(err instanceof ComputeError);
      assert.equal(err.kind, 'invalid_status');
      assert.equal(err.message, 'Cannot refresh compute configuration in state Empty');
      assert.equal(fake.count('fetchConfig'), 0);
    });
  });
});
