// A Replica compute on the postgres storage backend: a streaming hot standby of the upstream.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client } from 'pg';
import { configurationRequest, json, postJson, until, useCompute } from '../support/stack';

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
});
