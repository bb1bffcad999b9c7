// A compute's whole life through the real Temporal dev server and real PostgreSQL: empty →
// configure → running → terminate, as the control plane sees it over HTTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Client } from 'pg';
import { isAlive } from '../../src/postgres/os';
import { statusFileFor } from '../../src/pod/compute-view';
import { assertStatusAgrees, configurationRequest, json, postJson, useCompute } from '../support/stack';
import { scramVerifier } from '../support/scram';

function upSamples(metricsText: string): string[] {
  return metricsText.split('\n').filter((l) => l.startsWith('compute_ctl_up{'));
}

async function pidOf(pgdata: string): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  return Number((await readFile(`${pgdata}/postmaster.pid`, 'utf8')).split('\n')[0]);
}

describe('compute lifecycle over HTTP', () => {
  const t = useCompute({ name: 'configure-terminate', children: ['startup-1', 'reconfigure-1', 'termination'] });
  const withAdmin = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ connectionString: t.compute.connstr });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };

  test('a new compute without a spec waits in empty', async () => {
    const res = await t.compute.api('/status');
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.status, 'empty');
    assert.equal(body.pg_version, 'v15', 'the major version of the server it runs (§1)');
    assert.equal(body.tenant, null);
    assert.equal(body.error, null);
    assert.ok(res.headers.get('x-request-id'));
    assert.deepEqual(await assertStatusAgrees(t.compute), body);
    const metrics = await (await t.compute.api('/metrics')).text();
    assert.deepEqual(upSamples(metrics), ['compute_ctl_up{build_tag="test",status="empty"} 1']);
  });

  test('unknown paths 404, wrong methods 405, both with empty bodies; request ids are echoed', async () => {
    const missing = await t.compute.api('/nope', { headers: { 'x-request-id': 'req-123' } });
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), '');
    assert.equal(missing.headers.get('x-request-id'), 'req-123');
    const wrong = await t.compute.api('/configure');
    assert.equal(wrong.status, 405);
    assert.equal(await wrong.text(), '');
  });

  test('bad /configure bodies are refused and change nothing', async () => {
    const noRoles = configurationRequest(t.stack, t.compute.pgPort);
    delete (noRoles.spec.cluster as { roles?: unknown }).roles;
    let res = await t.compute.api('/configure', postJson(noRoles));
    assert.equal(res.status, 422);
    assert.match((await json(res)).error, /spec\.cluster\.roles: missing field/);

    res = await t.compute.api('/configure', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"spec": ' });
    assert.equal(res.status, 400);
    assert.ok((await json(res)).error);

    const neonWithoutSafekeepers = configurationRequest(t.stack, t.compute.pgPort, {}, {
      storage: null,
      tenant_id: 'b0554b632bd4d547a63b86c3630317e8',
      timeline_id: '2414a61ffc94e428f14b5758fe308e13',
      pageserver_connstring: 'postgres://no_user@ps-1:6400',
    });
    res = await t.compute.api('/configure', postJson(neonWithoutSafekeepers));
    assert.equal(res.status, 400);
    assert.deepEqual(await json(res), { error: 'safekeeper connstrings should be provided' });

    assert.equal((await json(await t.compute.api('/status'))).status, 'empty');
  });

  test('/configure brings the compute to running with its roles and databases', async () => {
    const roles = [
      { name: 'neondb_owner', encrypted_password: scramVerifier('s3cret'), options: null },
      { name: 'app user "quoted"', encrypted_password: null, options: null },
    ];
    const databases = [
      { name: 'neondb', owner: 'neondb_owner', options: null },
      { name: 'app db', owner: 'app user "quoted"', options: null },
    ];
    const res = await t.compute.api('/configure', postJson(configurationRequest(t.stack, t.compute.pgPort, { roles, databases })));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'running');
    assert.equal(body.error, null);
    assert.ok(body.startup_metrics.basebackup_bytes > 0);
    // last_active is observed live by the process: it may move between the two answers.
    const { last_active: _now, ...agreed } = await assertStatusAgrees(t.compute);
    const { last_active: _then, ...answered } = body;
    assert.deepEqual(agreed, answered);
    // /metrics.json: the startup metrics of §7.2, the same as /status carries.
    const startup = await json(await t.compute.api('/metrics.json'));
    assert.deepEqual(startup, body.startup_metrics);
    for (const field of ['wait_for_spec_ms', 'sync_safekeepers_ms', 'basebackup_ms', 'start_postgres_ms', 'config_ms', 'total_startup_ms']) {
      assert.equal(typeof startup[field], 'number', field);
    }
    assert.ok(startup.total_startup_ms >= startup.basebackup_ms + startup.start_postgres_ms);

    // The owner role logs in with its password over TCP (pg_hba's md5 line accepts SCRAM).
    const owner = new Client({ host: '127.0.0.1', port: t.compute.pgPort, user: 'neondb_owner', password: 's3cret', database: 'neondb' });
    await owner.connect();
    try {
      await owner.query('CREATE TABLE t (id int primary key, v text)');
      await owner.query("INSERT INTO t VALUES (1, 'one'), (2, 'two')");
      const { rows } = await owner.query('SELECT count(*)::int AS n, current_user AS me FROM t');
      assert.deepEqual(rows[0], { n: 2, me: 'neondb_owner' });
    } finally {
      await owner.end();
    }
    const admin = new Client({ connectionString: t.compute.connstr });
    await admin.connect();
    try {
      const dbs = await admin.query(
        "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname IN ('neondb', 'app db') ORDER BY 1",
      );
      assert.deepEqual(dbs.rows, [
        { datname: 'app db', owner: 'app user "quoted"' },
        { datname: 'neondb', owner: 'neondb_owner' },
      ]);
      const member = await admin.query("SELECT pg_has_role('neondb_owner', 'neon_superuser', 'MEMBER') AS m");
      assert.equal(member.rows[0].m, true);
    } finally {
      await admin.end();
    }

    const metrics = await (await t.compute.api('/metrics')).text();
    assert.deepEqual(upSamples(metrics), ['compute_ctl_up{build_tag="test",status="running"} 1']);
  });

  test("what the pod keeps of its compute holds no secret: its status file and the lifecycle's memo it reads at boot", async () => {
    // Not the HTTP bodies alone (their response schemas would drop a stray field): the stores
    // behind them, which no schema filters.
    const kept = await readFile(statusFileFor(t.compute.pgdata), 'utf8');
    const memo = JSON.stringify((await t.compute.worker.computes.client.workflow.getHandle(`compute-${t.compute.computeId}`).describe()).memo);
    for (const [where, text] of [['the status file', kept], ['the memo', memo]] as const) {
      assert.ok(text.includes('"status":"running"'), `${where} holds the view`);
      assert.doesNotMatch(text, /SCRAM-SHA-256|encrypted_password|connstring|storage_auth_token/, where);
    }
  });

  test('/check_writability writes the health check; /insights answers in Neon\'s double-encoded format', async () => {
    const read = () => withAdmin((c) => c.query('SELECT updated_at FROM public.health_check WHERE id = 1').then((r) => r.rows[0].updated_at as Date));
    const before = await read();
    const res = await t.compute.api('/check_writability', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(await json(res), true);
    assert.ok((await read()) > before);
    // This compute has no pg_stat_statements: Neon's fallback text, doubled braces included, as a JSON string.
    const insights = await t.compute.api('/insights');
    assert.equal(insights.status, 200);
    assert.equal(await json(insights), '{{"pg_stat_statements": []}}');
  });

  test('/database_schema streams pg_dump --schema-only of any database; 404 for a missing one', async () => {
    const res = await t.compute.api('/database_schema?database=neondb');
    assert.equal(res.status, 200);
    const dump = await res.text();
    assert.match(dump, /PostgreSQL database dump/);
    assert.match(dump, /CREATE TABLE public\.t \(/);
    assert.doesNotMatch(dump, /COPY public\.t|INSERT INTO/); // the schema, not the data
    const spaced = await t.compute.api(`/database_schema?database=${encodeURIComponent('app db')}`);
    assert.equal(spaced.status, 200);
    assert.match(await spaced.text(), /PostgreSQL database dump complete/);
    const missing = await t.compute.api('/database_schema?database=nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(await json(missing), { error: 'database does not exist' });
  });

  test('the internal server: /grants grants only what is missing, /extensions installs at a version', async () => {
    const internal = (pathname: string, body: unknown) => fetch(`${t.compute.worker.internalUrl}${pathname}`, postJson(body));
    const grant = { database: 'neondb', schema: 'public', role: 'app user "quoted"', privileges: ['USAGE', 'CREATE'] };
    let res = await internal('/grants', grant);
    assert.equal(res.status, 201);
    assert.deepEqual(await json(res), grant);
    const granted = async () => {
      const c = new Client({ connectionString: t.compute.connstr.replace(/\/postgres$/, '/neondb') });
      await c.connect();
      try {
        const { rows } = await c.query(
          `SELECT has_schema_privilege('app user "quoted"', 'public', 'USAGE') AS usage, has_schema_privilege('app user "quoted"', 'public', 'CREATE') AS create`,
        );
        return rows[0];
      } finally {
        await c.end();
      }
    };
    assert.deepEqual(await granted(), { usage: true, create: true });
    assert.equal((await internal('/grants', grant)).status, 201); // nothing missing: nothing granted, still 201

    const version = await withAdmin(async (c) => (await c.query("SELECT default_version FROM pg_available_extensions WHERE name = 'hstore'")).rows[0].default_version as string);
    res = await internal('/extensions', { extension: 'hstore', database: 'neondb', version });
    assert.equal(res.status, 201);
    assert.deepEqual(await json(res), { extension: 'hstore', version });
    const c = new Client({ connectionString: t.compute.connstr.replace(/\/postgres$/, '/neondb') });
    await c.connect();
    try {
      const { rows } = await c.query("SELECT extversion, extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'hstore'");
      assert.deepEqual(rows, [{ extversion: version, schema: 'public' }]);
    } finally {
      await c.end();
    }
  });

  test('a second /configure on a running compute reconfigures it', async () => {
    const roles = [{ name: 'neondb_owner', encrypted_password: scramVerifier('s3cret'), options: null }, { name: 'late_role', encrypted_password: null, options: null }];
    const databases = [{ name: 'neondb', owner: 'neondb_owner', options: null }];
    const res = await t.compute.api('/configure', postJson(configurationRequest(t.stack, t.compute.pgPort, { roles, databases })));
    assert.equal(res.status, 200);
    const reconfigured = await json(res);
    assert.equal(reconfigured.status, 'running');
    // last_active is observed live by the process: it may move between the two answers.
    const { last_active: _now, ...agreed } = await assertStatusAgrees(t.compute);
    const { last_active: _then, ...answered } = reconfigured;
    assert.deepEqual(agreed, answered);
    const admin = new Client({ connectionString: t.compute.connstr });
    await admin.connect();
    try {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = 'late_role'");
      assert.equal(rowCount, 1);
    } finally {
      await admin.end();
    }
  });

  test('a /configure retried with the same x-request-id joins the first: one reconfiguration', async () => {
    const client = t.compute.worker.computes.client;
    /** How many reconfiguration workflows there are (`…-reconfigure-<n>`, found by describe: no visibility lag). */
    const reconfigurations = async () => {
      let n = 0;
      while (await client.workflow.getHandle(`compute-${t.compute.computeId}-reconfigure-${n + 1}`).describe().then(() => true, () => false)) n++;
      return n;
    };
    const before = await reconfigurations();
    const body = configurationRequest(t.stack, t.compute.pgPort, {
      roles: [{ name: 'neondb_owner', encrypted_password: scramVerifier('s3cret'), options: null }, { name: 'retried_role', encrypted_password: null, options: null }],
      databases: [{ name: 'neondb', owner: 'neondb_owner', options: null }],
    });
    const send = () => t.compute.api('/configure', { ...postJson(body), headers: { 'content-type': 'application/json', 'x-request-id': `retry-${process.pid}` } });
    const [first, second] = await Promise.all([send(), send()]);
    assert.deepEqual([first.status, second.status], [200, 200]);
    assert.equal(first.headers.get('x-request-id'), `retry-${process.pid}`);
    assert.equal(await reconfigurations(), before + 1);
    // A later request with the same id is the same update, answered again without a new reconfiguration.
    assert.equal((await send()).status, 200);
    assert.equal(await reconfigurations(), before + 1);
  });

  test('an unknown termination mode is a 400', async () => {
    const res = await t.compute.api('/terminate?mode=gently', { method: 'POST' });
    assert.equal(res.status, 400);
    assert.match((await json(res)).error, /invalid termination mode: gently/);
    assert.equal((await json(await t.compute.api('/status'))).status, 'running');
  });

  test('/terminate stops Postgres and returns its LSN; a repeat answers 201', async () => {
    const pid = await pidOf(t.compute.pgdata);
    assert.ok(isAlive(pid));
    const res = await t.compute.api('/terminate', { method: 'POST' });
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.match(body.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(isAlive(pid), false);
    // The LSN is the stopped cluster's: its shutdown checkpoint, as pg_controldata reads it.
    const control = execFileSync(path.join(path.dirname(t.stack.postgres), 'pg_controldata'), [t.compute.pgdata], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    assert.equal(body.lsn, /^Latest checkpoint location:\s+(\S+)$/m.exec(control)?.[1]);
    assert.match(control, /^Database cluster state:\s+shut down$/m);

    const again = await t.compute.api('/terminate', { method: 'POST' });
    assert.equal(again.status, 201);
    assert.deepEqual(await json(again), body);

    const status = await assertStatusAgrees(t.compute);
    assert.equal(status.status, 'terminated');
    assert.equal(status.terminate_lsn, body.lsn);
  });

  test('illegal transitions answer 412 with the reference text', async () => {
    const res = await t.compute.api('/configure', postJson(configurationRequest(t.stack, t.compute.pgPort)));
    assert.equal(res.status, 412);
    assert.deepEqual(await json(res), { error: 'invalid compute status: terminated' });
  });
});
