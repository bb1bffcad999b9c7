// Postgres dying under a running compute, a lifecycle that continues-as-new, and hostile input.
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { describe, test } from 'node:test';
import { livePostmasterPid } from '../../src/postgres/postmaster';
import { recordHistories } from '../support/histories';
import { assertStatusAgrees, configurationRequest, json, postJson, startCompute, until, useCompute, type ComputeUnderTest } from '../support/stack';

async function running(c: ComputeUnderTest, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await c.api('/configure', postJson(configurationRequest(c.stack, c.pgPort, {}, extra)));
  assert.equal(res.status, 200, JSON.stringify(await json(res)));
}

async function failedWith(c: ComputeUnderTest): Promise<string> {
  const s = await until('failed', async () => {
    const body = await json(await c.api('/status'));
    return body.status === 'failed' ? body : undefined;
  }, 60_000);
  return s.error;
}

describe('Postgres dying while the compute runs', () => {
  const t = useCompute();

  test('killed: the compute goes to failed with the signal recorded; terminate still works', async () => {
    await running(t.compute);
    process.kill((await livePostmasterPid(t.compute.pgdata))!, 'SIGKILL');
    assert.equal(await failedWith(t.compute), 'Postgres exited unexpectedly: killed by signal SIGKILL');
    // The pod's view is the lifecycle's, which learned the exit from the pod's report.
    assert.equal((await assertStatusAgrees(t.compute)).status, 'failed');
    assert.match(await (await t.compute.api('/metrics')).text(), /^compute_ctl_up\{build_tag="test",status="failed"\} 1$/m);
    const term = await t.compute.api('/terminate', { method: 'POST' });
    assert.equal(term.status, 200);
    assert.deepEqual(await json(term), { lsn: null });
  });

  test('shut down behind our back: failed with its exit code', async () => {
    const c = await startCompute(t.stack);
    try {
      await running(c);
      // With the compute monitor's session open: a smart shutdown must not wait for it.
      await until('the monitor connected', async () => {
        const db = new Client({ connectionString: c.connstr });
        await db.connect();
        try {
          const { rowCount } = await db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'compute_ctl:compute_monitor'");
          return rowCount ? true : undefined;
        } finally {
          await db.end();
        }
      });
      process.kill((await livePostmasterPid(c.pgdata))!, 'SIGTERM'); // smart shutdown: exits 0
      assert.equal(await failedWith(c), 'Postgres exited unexpectedly with code 0');
    } finally {
      await c.stop();
    }
  });
});

describe('a lifecycle that continues-as-new', () => {
  test('keeps its state, answers and terminates across runs; each run stays small', async () => {
    const { startStack } = await import('../support/stack');
    const stack = await startStack();
    const c = await startCompute(stack, { historyThreshold: 30 });
    try {
      const client = c.worker.computes.client;
      const handle = client.workflow.getHandle(`compute-${c.computeId}`);
      // At rest after each reconfiguration: the run and the whole /status (but the live last_active).
      const samples: { runId: string; status: Record<string, unknown> }[] = [];
      const sample = async () => {
        const { last_active: _live, ...status } = await json(await c.api('/status'));
        samples.push({ runId: (await handle.describe()).runId, status });
      };
      await running(c);
      await sample();
      for (let i = 0; i < 4; i++) {
        await running(c); // reconfigurations add history
        await sample();
      }
      const runIds = new Set(samples.map((s) => s.runId));
      assert.ok(runIds.size >= 2, `continued as new (${runIds.size} runs)`);
      // Across continue-as-new, /status is the same, field for field.
      const across = samples.findIndex((s, i) => i > 0 && s.runId !== samples[i - 1].runId);
      assert.deepEqual(samples[across].status, samples[across - 1].status);
      assert.equal(samples[across].status.status, 'running');
      const desc = await handle.describe();
      assert.ok(desc.historyLength < 60, `current run's history is small (${desc.historyLength})`);

      // Postgres is still watched in the new run: its death fails the compute.
      const pid = (await livePostmasterPid(c.pgdata))!;
      process.kill(pid, 'SIGKILL');
      assert.match(await failedWith(c), /^Postgres exited unexpectedly: killed by signal SIGKILL/);
      const term = await c.api('/terminate', { method: 'POST' });
      assert.equal(term.status, 200);
      await until('terminated', async () => ((await json(await c.api('/status'))).status === 'terminated' ? true : undefined));
      await recordHistories(client, 'continue-as-new', [`compute-${c.computeId}`]);
    } finally {
      await c.stop();
      await stack.stop();
    }
  });
});

/** A deterministic stream of numbers in [0, 1). */
function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function setPath<T extends object>(obj: T, path: string[], value: unknown): T {
  let o = obj as Record<string, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (value === undefined) delete o[path[path.length - 1]];
  else o[path[path.length - 1]] = value;
  return obj;
}

describe('hostile /configure input', () => {
  const t = useCompute();

  test('at least 200 malformed requests: each a clear 4xx, none changes state or hurts the worker', async () => {
    await running(t.compute);
    const before = await json(await t.compute.api('/status'));
    const valid = () => configurationRequest(t.stack, t.compute.pgPort, { roles: [{ name: 'r', encrypted_password: null, options: null }], databases: [{ name: 'd', owner: 'r', options: null }] });
    const neon = () => {
      const r = valid();
      const spec = r.spec as Record<string, unknown>;
      delete spec.storage;
      Object.assign(spec, {
        tenant_id: 'b0554b632bd4d547a63b86c3630317e8',
        timeline_id: '2414a61ffc94e428f14b5758fe308e13',
        pageserver_connstring: 'postgres://no_user@127.0.0.1:1',
        safekeeper_connstrings: ['a:1', 'b:1'],
      });
      return r;
    };
    type Case = { name: string; body: string; type?: string; headers?: Record<string, string>; status: number; error: RegExp };
    const cases: Case[] = [];
    // A body of the wrong shape: 422 naming the field and what is wrong with it.
    const SHAPE = /^(body|spec|compute_ctl_config)[\w.[\]]*: (missing field|expected .+, got .+|unexpected property, got .+|unknown compute mode .+)$/;
    const add = (name: string, value: unknown, status = 422, error = SHAPE) => cases.push({ name, body: JSON.stringify(value), status, error });

    // Missing required fields.
    const required = [['spec'], ['compute_ctl_config'], ['compute_ctl_config', 'jwks'], ['compute_ctl_config', 'jwks', 'keys'], ['spec', 'format_version'],
      ['spec', 'suspend_timeout_seconds'], ['spec', 'cluster'], ['spec', 'cluster', 'roles'], ['spec', 'cluster', 'databases']];
    for (const p of required) {
      const r = valid();
      setPath(r, p, undefined);
      add(`missing ${p.join('.')}`, r);
    }
    for (const [p, field] of [[['spec', 'cluster', 'roles', '0'], 'name'], [['spec', 'cluster', 'databases', '0'], 'name'], [['spec', 'cluster', 'databases', '0'], 'owner']] as const) {
      const r = valid();
      setPath(r, [...p, field], undefined);
      add(`missing ${[...p, field].join('.')}`, r);
    }
    // Wrong types.
    const typed: [string[], unknown[]][] = [
      [['spec', 'format_version'], ['1.0', true, null, [], {}]],
      [['spec', 'suspend_timeout_seconds'], ['300', 1.5, null, [], {}, true]],
      [['spec', 'cluster'], [[], 'c', 1, null, true]],
      [['spec', 'cluster', 'roles'], [{}, 'r', 1, null, true]],
      [['spec', 'cluster', 'databases'], [{}, 'd', 1, null, true]],
      [['spec', 'cluster', 'roles', '0', 'name'], [1, null, [], {}, true, '']],
      [['spec', 'cluster', 'roles', '0', 'encrypted_password'], [1, [], {}, true]],
      [['spec', 'cluster', 'databases', '0', 'owner'], [1, null, [], {}, false]],
      [['spec', 'cluster', 'settings'], ['x', 1, {}, [{ name: 1, value: 'v', vartype: 's' }], [{ value: 'v' }]]],
      [['spec', 'features'], ['x', 1, {}, [1], null]],
      [['spec', 'skip_pg_catalog_updates'], ['yes', 1, [], {}]],
      [['spec', 'reconfigure_concurrency'], [-1, 'many', 1.5, []]],
      [['spec', 'delta_operations'], ['x', [{}], [{ action: 'delete_db' }], [{ name: 'x' }], 1]],
      [['spec', 'storage'], ['postgres', 1, [], { type: 'postgres' }, { type: 'ceph' }, { type: 'postgres', connstring: 5 }]],
      [['spec', 'pageserver_connection_info'], ['x', 1, [], { shard_count: 300, shards: {} }, { shard_count: 0, shards: { zz: { pageservers: [] } } }]],
      [['spec', 'audit_log_level'], ['Loud', 1, null, []]],
      [['compute_ctl_config', 'jwks', 'keys'], ['k', 1, null, {}, [{}]]],
    ];
    for (const [p, values] of typed) {
      for (const v of values) {
        const r = valid();
        setPath(r, p, v);
        add(`${p.join('.')} = ${JSON.stringify(v)}`, r);
      }
    }
    // Unknown modes.
    for (const mode of ['Secondary', 'primary', '', 7, null, [], { Static: 'nope' }, { Static: 5 }, { Replica: true }, { Static: '0/1', extra: 1 }]) {
      const r = valid();
      setPath(r, ['spec', 'mode'], mode);
      add(`mode ${JSON.stringify(mode)}`, r);
    }
    // Neon specs that fail §2.7.
    // Valid JSON of the right shape that §2.7 refuses: 400 with the reference's text.
    const neonCases: [string, (s: Record<string, unknown>) => void, string][] = [
      ['duplicate safekeepers', (s) => (s.safekeeper_connstrings = ['a:1', 'b:1', 'a:1']), 'duplicate entry in safekeeper_connstrings: a:1!'],
      ['no safekeepers', (s) => delete s.safekeeper_connstrings, 'safekeeper connstrings should be provided'],
      ['empty safekeepers GUC', (s) => ((s.cluster as Record<string, unknown>).settings = [{ name: 'neon.safekeepers', value: '', vartype: 'string' }], delete s.safekeeper_connstrings), 'safekeeper_connstrings is empty'],
      ['bad tenant', (s) => (s.tenant_id = 'not-hex'), 'invalid tenant id'],
      ['no tenant', (s) => delete s.tenant_id, 'tenant id should be provided'],
      ['bad timeline', (s) => (s.timeline_id = 'ABC'), 'invalid timeline id'],
      ['no pageserver', (s) => delete s.pageserver_connstring, 'pageserver connection information should be provided'],
      ['shards without stripe', (s) => (s.pageserver_connstring = 'postgres://a:1,postgres://b:1'), '2 shards but no stripe_size'],
    ];
    for (const [name, mutate, text] of neonCases) {
      const r = neon();
      mutate(r.spec as Record<string, unknown>);
      add(name, r, 400, new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    }
    // Not JSON objects, and broken JSON.
    for (const v of [[], 1, 'spec', null, true, [valid()]]) add(`body ${JSON.stringify(v).slice(0, 20)}`, v);
    const text = JSON.stringify(valid());
    const random = rng(42);
    // Not JSON: 400; not declared JSON: 415.
    const notJson = /^body is not valid json but content-type is set to 'application\/json'$/;
    while (cases.length < 230) {
      const cut = 1 + Math.floor(random() * (text.length - 2));
      cases.push({ name: `truncated at ${cut}`, body: text.slice(0, cut), status: 400, error: notJson });
    }
    cases.push({ name: 'garbage', body: '{"spec": {,}', status: 400, error: notJson });
    cases.push({ name: 'empty body', body: '', status: 400, error: /^body cannot be empty when content-type is set to 'application\/json'$/ });
    cases.push({ name: 'not JSON content type', body: text, type: 'text/plain', status: 415, error: /^Expected request with `Content-Type: application\/json`$/ });
    // What would otherwise reach Temporal and break a workflow task (exact answers).
    const tooLarge = /^request body is larger than the limit of 1048576 bytes \(1 MiB\)$/;
    cases.push({ name: '10 MB body', body: JSON.stringify({ ...valid(), padding: 'x'.repeat(10 * 1024 * 1024) }), status: 413, error: tooLarge });
    cases.push({ name: 'a 2 MB spec', body: JSON.stringify(setPath(valid(), ['spec', 'cluster', 'roles'], Array.from({ length: 20_000 }, (_, i) => ({ name: `role_${i}_${'x'.repeat(60)}`, encrypted_password: null, options: null })))), status: 413, error: tooLarge });
    const nested = `${'{"x":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    cases.push({ name: 'nested 10,000 deep in a known field', body: JSON.stringify(setPath(valid(), ['spec', 'cluster'], '@@')).replace('"@@"', nested), status: 400, error: /^request body is nested deeper than 32 levels$/ });
    cases.push({ name: 'nested 10,000 deep in an unknown field', body: JSON.stringify(setPath(valid(), ['spec', 'unknown'], '@@')).replace('"@@"', nested), status: 400, error: /^request body is nested deeper than 32 levels$/ });
    cases.push({ name: 'a 4,000-character x-request-id', body: text, headers: { 'x-request-id': 'r'.repeat(4000) }, status: 400, error: /^invalid x-request-id: / });
    for (const [name, p, v, field] of [
      ['storage port -1', ['spec', 'storage', 'connstring'], `${t.stack.upstream.connstring.replace(/:\d+\//, ':-1/')}`, 'spec.storage.connstring'],
      ['storage port 99999999', ['spec', 'storage', 'connstring'], `${t.stack.upstream.connstring.replace(/:\d+\//, ':99999999/')}`, 'spec.storage.connstring'],
      ['postgresql_conf port 99999999', ['spec', 'cluster', 'postgresql_conf'], 'port=99999999\n', 'spec.cluster.postgresql_conf'],
    ] as const) {
      cases.push({ name, body: JSON.stringify(setPath(valid(), [...p], v)), status: 400, error: new RegExp(`^${field.replace(/\./g, '\\.')}: port "[-0-9]+" is not a port number \\(1-65535\\)$`) });
    }
    const neonPorts = neon();
    (neonPorts.spec as Record<string, unknown>).safekeeper_connstrings = ['a:1', 'b:99999'];
    cases.push({ name: 'safekeeper port 99999', body: JSON.stringify(neonPorts), status: 400, error: /^spec\.safekeeper_connstrings\[1\]: port "99999" is not a port number \(1-65535\)$/ });

    assert.ok(cases.length >= 200);
    for (const c of cases) {
      const res = await t.compute.api('/configure', { method: 'POST', headers: { 'content-type': c.type ?? 'application/json', ...c.headers }, body: c.body });
      assert.equal(res.status, c.status, c.name);
      const body = (await res.json().catch(() => null)) as { error?: unknown } | null;
      assert.ok(body && typeof body.error === 'string', `${c.name}: a JSON error body`);
      assert.match(body.error as string, c.error, c.name);
    }

    // Nothing changed: same status, no reconfiguration ever started, and the worker still works.
    const after = await json(await t.compute.api('/status'));
    assert.deepEqual(after, before);
    await assert.rejects(t.compute.worker.computes.client.workflow.getHandle(`compute-${t.compute.computeId}-reconfigure-1`).describe());
    await running(t.compute);
    assert.equal((await json(await t.compute.api('/status'))).status, 'running');
  });
});
