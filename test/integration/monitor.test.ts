// The compute monitor (§8.1) and the metrics of §7.1 on a running compute: last_active moves with
// users' sessions only, the monitor's lost connection counts as downtime, the installed extensions
// are counted per database, and /metrics is valid exposition text.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from 'pg';
import { assertStatusAgrees, configurationRequest, json, postJson, startCompute, startStack, until, type ComputeUnderTest, type Stack } from '../support/stack';
import { assertValidExposition } from '../support/exposition';

describe('compute monitor', () => {
  let stack: Stack;
  let c: ComputeUnderTest;
  const sql = async (user: string, text: string) => {
    const db = new Client({ host: '127.0.0.1', port: c.pgPort, user, database: 'postgres' });
    await db.connect();
    try {
      return (await db.query(text)).rows;
    } finally {
      await db.end();
    }
  };
  const status = async () => json(await c.api('/status'));
  const metrics = async () => assertValidExposition(await (await c.api('/metrics')).text());

  before(async () => {
    stack = await startStack();
    c = await startCompute(stack);
    const res = await c.api(
      '/configure',
      postJson(
        configurationRequest(stack, c.pgPort, {
          roles: [{ name: 'alice', encrypted_password: null, options: null }],
          databases: [{ name: 'alicedb', owner: 'alice', options: null }],
          // Autovacuum workers count as activity (§8.1); off, so that only the test's sessions do.
          settings: [{ name: 'autovacuum', value: 'off', vartype: 'bool' }],
        }),
      ),
    );
    assert.equal(res.status, 200);
  });
  after(async () => {
    await c?.stop();
    await stack?.stop();
  });

  test("/metrics/temporal serves Temporal Core's worker metrics beside ours, a valid exposition; /metrics stays the compute's", async () => {
    const ours = await metrics();
    assert.ok(ours.has('compute_ctl_up'));
    assert.deepEqual([...ours.keys()].filter((name) => name.startsWith('temporal_')), []);
    const res = await c.api('/metrics/temporal');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const families = assertValidExposition(await res.text());
    const core = [...families.keys()].filter((name) => name.startsWith('temporal_'));
    for (const wanted of ['temporal_num_pollers', 'temporal_worker_task_slots_available', 'temporal_workflow_task_execution_latency']) {
      assert.ok(core.includes(wanted), `${wanted} among ${core.join(', ')}`);
    }
    assert.ok(families.get('temporal_num_pollers')!.samples.some((s) => s.includes(`task_queue="compute-${c.computeId}"`)));
  });

  test("last_active: null until a user's session; compute-ctl's own (cloud_admin) do not count", async () => {
    await sql('cloud_admin', 'SELECT pg_sleep(1.2)');
    assert.equal((await status()).last_active, null);
    const t0 = Date.now();
    await sql('alice', 'SELECT pg_sleep(1.2)');
    const seen = await until('last_active', async () => (await status()).last_active ?? undefined, 10_000);
    assert.ok(Date.parse(seen) >= t0 - 1000, `${seen} is after the session began`);
    // The rest of /status is the workflow's, as a Temporal query has it.
    await assertStatusAgrees(c);
  });

  test('the monitor losing its connection counts as downtime, and an answer ends it', async () => {
    const before = Number((await metrics()).get('compute_pg_downtime_ms_total')!.samples[0].split(' ')[1]);
    const killed = await sql('cloud_admin', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'compute_ctl:compute_monitor'");
    assert.equal(killed.length, 1, 'the monitor keeps one connection');
    const total = await until('downtime counted', async () => {
      const t = Number((await metrics()).get('compute_pg_downtime_ms_total')!.samples[0].split(' ')[1]);
      return t > before ? t : undefined;
    }, 10_000);
    assert.ok(total > before);
    await until('back up', async () => ((await metrics()).get('compute_pg_current_downtime_ms')!.samples[0] === 'compute_pg_current_downtime_ms 0' ? true : undefined), 10_000);
  });

  test('compute_installed_extensions counts the databases holding each extension version', async () => {
    const dbs = await sql('cloud_admin', 'SELECT count(*)::int AS n FROM pg_database WHERE datallowconn');
    const families = await metrics();
    const plpgsql = families.get('compute_installed_extensions')!.samples.find((l) => l.includes('extension_name="plpgsql"'));
    assert.equal(plpgsql, `compute_installed_extensions{extension_name="plpgsql",version="1.0",owned_by_superuser="1"} ${dbs[0].n}`);
    assert.ok(!families.has('compute_ctl_lsn_lease_state'), 'no lease on a Primary');
  });
});
