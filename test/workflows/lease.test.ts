// The LSN lease of a Static compute (§8.2) with fake activities: renewals on durable timers,
// continue-as-new, error backoff, refusal, wake-up on new pageservers, cancellation on termination.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseComputeSpec } from '../../src/compute-spec/parse';
import { LEASE_REFUSED } from '../../src/workflows/lease';
import { fakeCompute, type FakeCompute } from '../support/fake-activities';
import { until } from '../support/stack';
import { newComputeId, useWorkflowEnv, withWorker, type WorkflowEnv } from '../support/workflow-env';

const staticSpec = (pageserver = 'postgresql://no_user@127.0.0.1:1') =>
  parseComputeSpec({
    format_version: 1,
    suspend_timeout_seconds: -1,
    mode: { Static: '0/16B3748' },
    tenant_id: 'b0554b632bd4d547a63b86c3630317e8',
    timeline_id: '2414a61ffc94e428f14b5758fe308e13',
    pageserver_connection_info: { shard_count: 0, stripe_size: null, shards: { '0000': { pageservers: [{ id: 1, libpq_url: pageserver, grpc_url: null }] } } },
    cluster: { roles: [], databases: [] },
  });

async function withStaticCompute(env: WorkflowEnv, fake: FakeCompute, fn: (id: string) => Promise<void>, leaseRoundsPerRun?: number): Promise<void> {
  const id = newComputeId('lease');
  await withWorker(env, id, fake.activities, async () => {
    await env.computes.ensureStarted(id, { leaseRoundsPerRun });
    assert.equal((await env.computes.configure(id, staticSpec())).status, 'running');
    await fn(id);
  });
}

const lease = async (env: WorkflowEnv, id: string) => (await env.computes.status(id)).lsn_lease;

describe('LSN lease workflow (fake activities)', () => {
  const env = useWorkflowEnv();

  test('renews on a timer before expiry, reports its state, continues as new, is cancelled on termination', async () => {
    // Valid for 2.2 s: the next round comes after max(valid − 60 s, valid / 2) = 1.1 s.
    const fake = fakeCompute({ acquireLeases: async () => ({ validUntilMs: Date.now() + 2_200 }) });
    await withStaticCompute(
      env,
      fake,
      async (id) => {
        const held = await until('three renewals', async () => {
          const l = await lease(env, id);
          return l && l.renewals >= 3 ? l : undefined;
        }, 30_000);
        assert.equal(held.status, 'held');
        assert.equal(held.lsn, '0/16B3748');
        assert.ok(held.valid_until && Date.parse(held.valid_until) > Date.now() - 5_000);
        const handle = env.client.workflow.getHandle(`compute-${id}-lease`);
        // Visibility is eventually consistent: wait for the runs to be counted.
        await until('continue-as-new after 2 rounds (two runs listed)', async () => {
          const runs = await env.client.workflow.count(`WorkflowId = "compute-${id}-lease"`);
          return runs.count >= 2 ? true : undefined;
        }, 30_000);
        await env.computes.terminate(id, 'immediate');
        await until('the lease cancelled', async () => ((await handle.describe()).status.name === 'CANCELLED' ? true : undefined), 30_000);
      },
      2,
    );
  });

  test('errors back off 0.5 s × 1.5 and are shown until a round succeeds', async () => {
    const at: number[] = [];
    const fake = fakeCompute({
      acquireLeases: async () => {
        at.push(Date.now());
        if (at.length <= 3) throw new Error('pageserver unreachable');
        return { validUntilMs: Date.now() + 3_600_000 };
      },
    });
    await withStaticCompute(env, fake, async (id) => {
      const retrying = await until('retrying', async () => {
        const l = await lease(env, id);
        return l?.status === 'retrying' ? l : undefined;
      }, 30_000);
      assert.match(retrying.error ?? '', /pageserver unreachable/);
      const held = await until('held', async () => {
        const l = await lease(env, id);
        return l?.status === 'held' ? l : undefined;
      }, 30_000);
      assert.equal(held.error, null);
      const gaps = at.slice(1).map((t, i) => t - at[i]);
      for (const [i, min] of [500, 750, 1125].entries()) assert.ok(gaps[i] >= min - 50, `gap ${i} was ${gaps[i]} ms, expected ≥ ${min}`);
    });
  });

  test('a refusal stops the lease for good; the compute keeps running', async () => {
    const fake = fakeCompute({ acquireLeases: async () => ({ refused: true as const }) });
    await withStaticCompute(env, fake, async (id) => {
      const refused = await until('refused', async () => {
        const l = await lease(env, id);
        return l?.status === 'refused' ? l : undefined;
      }, 30_000);
      assert.equal(refused.error, LEASE_REFUSED);
      assert.equal((await env.computes.status(id)).status, 'running');
      const handle = env.client.workflow.getHandle(`compute-${id}-lease`);
      assert.equal((await handle.describe()).status.name, 'COMPLETED');
      assert.equal(fake.count('acquireLeases'), 1);
    });
  });

  test('a /configure with other pageservers wakes the lease at once', async () => {
    const fake = fakeCompute(); // valid for an hour: the next round would be 59 minutes away
    await withStaticCompute(env, fake, async (id) => {
      await until('held', async () => ((await lease(env, id))?.status === 'held' ? true : undefined), 30_000);
      assert.equal(fake.count('acquireLeases'), 1);
      await env.computes.configure(id, staticSpec('postgresql://no_user@127.0.0.1:2'));
      await until('a second round', async () => (fake.count('acquireLeases') === 2 ? true : undefined), 30_000);
      const [spec] = fake.calls.acquireLeases[1] as [ReturnType<typeof staticSpec>];
      assert.equal(spec.spec.pageserver_connection_info?.shards['0000'].pageservers[0].libpq_url, 'postgresql://no_user@127.0.0.1:2');
    });
  });
});
