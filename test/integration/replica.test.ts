// A Replica compute on the postgres storage backend: a streaming hot standby of the upstream, and
// its promotion to a writable primary (/promote).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client } from 'pg';
import { recordHistories } from '../support/histories';
import { configurationRequest, json, postJson, startCompute, until, useCompute, assertStatusAgrees } from '../support/stack';

describe('a Replica compute', () => {
  const t = useCompute();

  test('starts as a read-only hot standby that follows the upstream', async () => {
    const res = await t.compute.api('/configure', postJson(configurationRequest(t.stack, t.compute.pgPort, {}, { mode: 'Replica' })));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.mode, 'replica');
    const upstream = new Client({ connectionString: t.stack.upstream.connstring });
    const replica = new Client({ connectionString: t.compute.connstr });
    await upstream.connect();
    await replica.connect();
    try {
      assert.equal((await replica.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, true);
      await upstream.query("CREATE TABLE followed (v text); INSERT INTO followed VALUES ('from the upstream')");
      const seen = await until('the row on the replica', async () => {
        const r = await replica.query("SELECT v FROM followed").catch(() => null);
        return r?.rows[0]?.v as string | undefined;
      }, 30_000);
      assert.equal(seen, 'from the upstream');
      await assert.rejects(replica.query('CREATE TABLE nope (x int)'), /read-only transaction/);
    } finally {
      await upstream.end();
      await replica.end();
    }
    const term = await t.compute.api('/terminate', { method: 'POST' });
    assert.deepEqual(await json(term), { lsn: null });
  });

  test('/promote: it catches up with the upstream, becomes a writable primary, and runs the given spec', async () => {
    // A compute of its own (the first test terminated its).
    const c = await startCompute(t.stack);
    try {
      const started = await c.api('/configure', postJson(configurationRequest(t.stack, c.pgPort, {}, { mode: 'Replica' })));
      assert.equal(started.status, 200);
      const upstream = new Client({ connectionString: t.stack.upstream.connstring });
      await upstream.connect();
      await upstream.query("CREATE TABLE before_promotion (v text); INSERT INTO before_promotion VALUES ('written before')");
      const flushed = (await upstream.query('SELECT pg_current_wal_flush_lsn()::text AS lsn')).rows[0].lsn as string;
      await upstream.end();

      const primarySpec = configurationRequest(t.stack, c.pgPort, { roles: [{ name: 'promoted_owner', encrypted_password: null, options: null }] }).spec;
      const promote = () => c.api('/promote', postJson({ spec: primarySpec, wal_flush_lsn: flushed }));
      const [first, second] = await Promise.all([promote(), promote()]);
      assert.deepEqual([first.status, second.status], [200, 200]);
      assert.deepEqual(await json(first), { status: 'completed' });
      assert.deepEqual(await json(second), { status: 'completed' });

      const db = new Client({ connectionString: c.connstr });
      await db.connect();
      try {
        assert.equal((await db.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, false);
        assert.equal((await db.query('SELECT v FROM before_promotion')).rows[0].v, 'written before');
        await db.query('CREATE TABLE after_promotion (x int)');
        assert.equal((await db.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'promoted_owner'")).rows[0].n, 1);
      } finally {
        await db.end();
      }
      // The pod's view after the promotion is the lifecycle's.
      const status = await assertStatusAgrees(c);
      assert.equal(status.mode, 'primary');
      assert.equal(status.status, 'running');
      const handle = c.worker.computes.client.workflow.getHandle(`compute-${c.computeId}-promotion-1`);
      assert.equal((await handle.describe()).status.name, 'COMPLETED');
      await assert.rejects(c.worker.computes.client.workflow.getHandle(`compute-${c.computeId}-promotion-2`).describe(), 'one promotion for both calls');
      // Promoted once: a Primary is not promoted again.
      const again = await c.api('/promote', postJson({ spec: primarySpec, wal_flush_lsn: flushed }));
      assert.deepEqual(await json(again), { status: 'completed' });
      await c.api('/terminate', { method: 'POST' });
      const id = `compute-${c.computeId}`;
      await recordHistories(c.worker.computes.client, 'promotion', [id, `${id}-startup-1`, `${id}-promotion-1`, `${id}-reconfigure-1`]);
    } finally {
      await c.stop();
    }
  });
});
