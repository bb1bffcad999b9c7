// Temporal down for a while under a running compute: Postgres keeps serving, /status and /metrics
// keep answering from the worker's own state (marked stale), operations answer 503 at once, and
// when Temporal is back everything goes on: no second start, no lost update, no duplicate workflow.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client } from 'pg';
import { livePostmasterPid } from '../../src/postgres/postmaster';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { startTemporalServer } from '../../src/dev/temporal-server';
import { configurationRequest, json, postJson, until } from '../support/stack';
import { useWorkerProcesses, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

const OUTAGE_MS = 15_000;

describe('Temporal down for a while', () => {
  const t = useWorkerProcesses({ temporalDbFile: true });
  let slot: ComputeSlot;
  let w: WorkerProcess;

  const status = async () => json(await w.api('/status'));
  const query = async (sql: string) => {
    const db = new Client({ connectionString: slot.connstr });
    await db.connect();
    try {
      return (await db.query(sql)).rows;
    } finally {
      await db.end();
    }
  };

  test('the compute serves, /status and /metrics answer (stale), operations are 503; then all goes on', async () => {
    const stack = t.stack;
    slot = await t.slot(`outage-${process.pid}`);
    w = t.spawn(slot);
    await until('/status', async () => ((await w.api('/status')).ok ? true : undefined));
    const first = await w.api('/configure', postJson(configurationRequest(stack, slot.pgPort, { roles: [{ name: 'before', encrypted_password: null, options: null }] })));
    assert.equal(first.status, 200);
    const running = await status();
    assert.equal(running.status, 'running');
    assert.equal(running.stale, undefined);

    const port = Number(stack.temporal.address.split(':')[1]);
    await stack.temporal.stop();
    const down = Date.now();
    const stale = await until('marked stale', async () => ((await status()).stale ? status() : undefined), 30_000);
    assert.equal(stale.status, 'running');
    assert.ok(Date.parse(stale.stale.since) >= down - 1000);
    assert.ok(stale.stale.reason.length > 0);
    assert.deepEqual(await query('SELECT 1 AS one'), [{ one: 1 }]);
    assert.match(await (await w.api('/metrics')).text(), /^compute_ctl_temporal_up 0$/m);
    for (const [path, init] of [
      ['/configure', postJson(configurationRequest(stack, slot.pgPort))],
      ['/terminate', { method: 'POST' }],
    ] as const) {
      const t0 = Date.now();
      const res = await w.api(path, init);
      assert.equal(res.status, 503, path);
      assert.match((await json(res)).error, /^Temporal is unreachable since .*; the compute keeps running, try again later$/);
      assert.ok(Date.now() - t0 < 3_000, `${path} answered within 3 s`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - down))));
    assert.deepEqual(await query('SELECT 2 AS two'), [{ two: 2 }], 'Postgres served throughout');

    stack.temporal = await startTemporalServer({ port, dbFilename: stack.temporalDbFile! });
    // The first request once Temporal answers goes through: no stale view of reachability refuses it.
    const second = await w.api('/configure', postJson(configurationRequest(stack, slot.pgPort, { roles: [{ name: 'after', encrypted_password: null, options: null }] })));
    assert.equal(second.status, 200, JSON.stringify(await json(second)));
    await until('no longer stale', async () => ((await status()).stale === undefined ? true : undefined), 60_000);
    assert.deepEqual((await query("SELECT rolname FROM pg_roles WHERE rolname IN ('before', 'after') ORDER BY 1")).map((r) => r.rolname), ['after', 'before']);

    const connection = await Connection.connect({ address: stack.temporal.address });
    try {
      const client = new TemporalClient({ connection });
      const id = `compute-${slot.computeId}`;
      const runs: string[] = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId = '${id}'` })) runs.push(wf.runId);
      assert.equal(runs.length, 1, 'one lifecycle run');
      await assert.rejects(client.workflow.getHandle(`${id}-startup-2`).describe(), 'no second start');
      assert.equal((await client.workflow.getHandle(`${id}-reconfigure-1`).describe()).status.name, 'COMPLETED');
    } finally {
      await connection.close();
    }
    assert.equal((await w.api('/terminate', { method: 'POST' })).status, 200);
  });

  test("Postgres dying while Temporal is away: the pod's report reaches the lifecycle when Temporal is back, once", async () => {
    const stack = t.stack;
    slot = await t.slot(`outage-exit-${process.pid}`);
    w = t.spawn(slot);
    await until('/status', async () => ((await w.api('/status')).ok ? true : undefined));
    assert.equal((await w.api('/configure', postJson(configurationRequest(stack, slot.pgPort)))).status, 200);
    const port = Number(stack.temporal.address.split(':')[1]);
    await stack.temporal.stop();
    process.kill((await livePostmasterPid(slot.pgdata))!, 'SIGKILL');
    await until('the pod tried to report it', async () => (/cannot report the exit of postmaster \d+ yet, retrying/.test(w.log()) ? true : undefined), 30_000);
    // The lifecycle has not heard of it: the pod's view is still what the lifecycle said, marked stale.
    const meanwhile = await status();
    assert.equal(meanwhile.status, 'running');
    assert.ok(meanwhile.stale);

    stack.temporal = await startTemporalServer({ port, dbFilename: stack.temporalDbFile! });
    const failed = await until('failed', async () => {
      const s = await status();
      return s.status === 'failed' && s.stale === undefined ? s : undefined;
    }, 60_000);
    assert.equal(failed.error, 'Postgres exited unexpectedly: killed by signal SIGKILL');
    const connection = await Connection.connect({ address: stack.temporal.address });
    try {
      const history = await new TemporalClient({ connection }).workflow.getHandle(`compute-${slot.computeId}`).fetchHistory();
      const reports = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'postgresExited');
      assert.equal(reports.length, 1, 'the exit reached the lifecycle once');
    } finally {
      await connection.close();
    }
    assert.equal((await w.api('/terminate', { method: 'POST' })).status, 200);
  });
});
