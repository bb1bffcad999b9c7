// The HTTP contract of the external API (reference §6), with app.inject() and a fake client: what
// each route answers, which errors become which statuses, and that refused requests reach nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Ajv from 'ajv';
import { Registry } from 'prom-client';
import type { Authenticator } from '../../src/api/auth';
import { buildExternalServer } from '../../src/api/server';
import type { ComputeOperations } from '../../src/client';
import { ComputeError, type ComputeErrorKind } from '../../src/compute/failures';
import { emptyMetrics, newLfcStates, type LfcStates, type PromoteState, type StatusView, type TerminateMode } from '../../src/compute/views';
import type { ParsedSpec } from '../../src/compute-spec/parse';

const VIEW: StatusView = {
  start_time: '2026-11-22T00:00:00.000Z',
  tenant: null,
  timeline: null,
  status: 'running',
  last_active: null,
  error: null,
  compute_id: 'c1',
  mode: 'primary',
  startup_metrics: { ...emptyMetrics(), total_startup_ms: 321 },
  terminate_lsn: null,
  pending_restart: [],
  lsn_lease: null,
};

const REQUEST = {
  compute_ctl_config: { jwks: { keys: [] } },
  spec: { format_version: 1, suspend_timeout_seconds: -1, storage: { type: 'postgres', connstring: 'postgresql://u@h/db' }, cluster: { roles: [], databases: [] } },
};

class FakeComputes implements ComputeOperations {
  calls: { op: string; computeId: string; arg?: unknown; requestId?: string }[] = [];
  fail: ComputeError | null = null;
  terminated = false;

  statusView: StatusView = VIEW;

  async status(computeId: string): Promise<StatusView> {
    this.calls.push({ op: 'status', computeId });
    if (this.fail) throw this.fail;
    return this.statusView;
  }
  async configure(computeId: string, spec: ParsedSpec, requestId?: string): Promise<StatusView> {
    this.calls.push({ op: 'configure', computeId, arg: spec, requestId });
    if (this.fail) throw this.fail;
    return VIEW;
  }
  async terminate(computeId: string, mode: TerminateMode, requestId?: string) {
    this.calls.push({ op: 'terminate', computeId, arg: mode, requestId });
    if (this.fail) throw this.fail;
    return { lsn: '0/15D3A28', already_terminated: this.terminated };
  }
  async refreshConfiguration(computeId: string) {
    this.calls.push({ op: 'refreshConfiguration', computeId });
    return true;
  }
  lfc: LfcStates = newLfcStates();
  async lfcStates(computeId: string): Promise<LfcStates> {
    this.calls.push({ op: 'lfcStates', computeId });
    if (this.fail) throw this.fail;
    return this.lfc;
  }
  async prewarmLfc(computeId: string, fromEndpoint: string | null) {
    this.calls.push({ op: 'prewarmLfc', computeId, arg: fromEndpoint });
    if (this.fail) throw this.fail;
    return { status: 'prewarming' as const };
  }
  async cancelLfcPrewarm(computeId: string) {
    this.calls.push({ op: 'cancelLfcPrewarm', computeId });
    if (this.fail) throw this.fail;
    return this.lfc.prewarm;
  }
  async offloadLfc(computeId: string) {
    this.calls.push({ op: 'offloadLfc', computeId });
    if (this.fail) throw this.fail;
    return { status: 'offloading' as const };
  }
  promoteAnswer: PromoteState = { status: 'completed' };
  async promote(computeId: string, spec: ParsedSpec, walFlushLsn: string, requestId?: string): Promise<PromoteState> {
    this.calls.push({ op: 'promote', computeId, arg: { spec, walFlushLsn }, requestId });
    if (this.fail) throw this.fail;
    return this.promoteAnswer;
  }
}

async function server(computes = new FakeComputes(), auth: Authenticator | null = null) {
  const app = await buildExternalServer({ auth, computes, computeId: 'c1', connstr: 'postgresql://cloud_admin@127.0.0.1:1/postgres', pgdata: '/nonexistent', pgbinDir: '/usr/lib/postgresql/15/bin', metrics: new Registry(), logLevel: 'silent' });
  return { app, computes };
}

describe('external API contract (app.inject, fake client)', () => {
  test('GET /status and /metrics.json answer from the client', async () => {
    const { app, computes } = await server();
    const res = await app.inject({ method: 'GET', url: '/status' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), VIEW);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/metrics.json' })).json(), VIEW.startup_metrics);
    assert.deepEqual(computes.calls.map((c) => [c.op, c.computeId]), [['status', 'c1'], ['status', 'c1']]);
  });

  test('POST /configure passes the parsed spec and the request id (the update id)', async () => {
    const { app, computes } = await server();
    const res = await app.inject({ method: 'POST', url: '/configure', payload: REQUEST, headers: { 'x-request-id': 'req-7' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-request-id'], 'req-7');
    assert.equal(computes.calls[0].op, 'configure');
    assert.equal(computes.calls[0].requestId, 'req-7');
    assert.equal((computes.calls[0].arg as ParsedSpec).storage.type, 'postgres');
  });

  test('bad /configure bodies: 400 and 422 with the reason, and the client is never called', async () => {
    const { app, computes } = await server();
    const cases: [unknown, number, RegExp][] = [
      ['{"spec": ', 400, /json/],
      [{ ...REQUEST, spec: { ...REQUEST.spec, cluster: { databases: [] } } }, 422, /^spec\.cluster\.roles: missing field$/],
      [{ ...REQUEST, spec: { ...REQUEST.spec, storage: null } }, 400, /^pageserver connection information should be provided$/],
    ];
    for (const [payload, code, error] of cases) {
      const res = await app.inject({
        method: 'POST',
        url: '/configure',
        headers: { 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      assert.equal(res.statusCode, code, res.body);
      assert.match(res.json().error, error);
    }
    assert.deepEqual(computes.calls, []);
  });

  test('client errors map to statuses with {"error"}', async () => {
    const expected: [ComputeErrorKind, number][] = [
      ['invalid_status', 412],
      ['in_progress', 429],
      ['configuration_failed', 500],
      ['not_found', 404],
      ['timeout', 504],
      ['unavailable', 503],
    ];
    for (const [kind, code] of expected) {
      const computes = new FakeComputes();
      computes.fail = new ComputeError(kind, `the ${kind} text`);
      const { app } = await server(computes);
      const res = await app.inject({ method: 'POST', url: '/configure', payload: REQUEST });
      assert.equal(res.statusCode, code, kind);
      assert.deepEqual(res.json(), { error: `the ${kind} text` });
    }
  });

  test('/lfc/prewarm and /lfc/offload: the states as the client holds them, 202 for a request, 429 while one runs', async () => {
    const { app, computes } = await server(new FakeComputes());
    assert.deepEqual((await app.inject({ method: 'GET', url: '/lfc/prewarm' })).json(), { status: 'not_prewarmed' });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/lfc/offload' })).json(), { status: 'not_offloaded' });
    computes.lfc = {
      prewarm: { status: 'completed', total: 10, prewarmed: 8, skipped: 2, state_download_time_ms: 1, uncompress_time_ms: 2, prewarm_time_ms: 3 },
      offload: { status: 'failed', error: 'request to endpoint storage failed: 500 Internal Server Error' },
    };
    assert.deepEqual((await app.inject({ method: 'GET', url: '/lfc/prewarm' })).json(), computes.lfc.prewarm);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/lfc/offload' })).json(), computes.lfc.offload);

    let res = await app.inject({ method: 'POST', url: '/lfc/prewarm?from_endpoint=ep-primary' });
    assert.equal(res.statusCode, 202);
    assert.equal(res.body, '');
    res = await app.inject({ method: 'POST', url: '/lfc/prewarm' });
    assert.equal(res.statusCode, 202);
    assert.equal((await app.inject({ method: 'DELETE', url: '/lfc/prewarm' })).statusCode, 202);
    assert.equal((await app.inject({ method: 'POST', url: '/lfc/offload' })).statusCode, 202);
    assert.deepEqual(
      computes.calls.filter((c) => c.op !== 'lfcStates').map((c) => [c.op, c.arg ?? null]),
      [['prewarmLfc', 'ep-primary'], ['prewarmLfc', null], ['cancelLfcPrewarm', null], ['offloadLfc', null]],
    );
    // An empty from_endpoint names nothing: refused before the client.
    res = await app.inject({ method: 'POST', url: '/lfc/prewarm?from_endpoint=' });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /from_endpoint/);

    computes.fail = new ComputeError('in_progress', 'Multiple requests for prewarm are not allowed');
    res = await app.inject({ method: 'POST', url: '/lfc/prewarm' });
    assert.equal(res.statusCode, 429);
    assert.deepEqual(res.json(), { error: 'Multiple requests for prewarm are not allowed' });
  });

  test('POST /terminate: fast by default, 201 when already terminated', async () => {
    const { app, computes } = await server(new FakeComputes());
    let res = await app.inject({ method: 'POST', url: '/terminate' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { lsn: '0/15D3A28' });
    assert.equal(computes.calls[0].arg, 'fast');
    computes.terminated = true;
    res = await app.inject({ method: 'POST', url: '/terminate?mode=immediate' });
    assert.equal(res.statusCode, 201);
    assert.equal(computes.calls[1].arg, 'immediate');
  });

  test('an unknown termination mode is refused by the route schema and terminates nothing', async () => {
    const { app, computes } = await server(new FakeComputes());
    for (const mode of ['gently', 'FAST', '']) {
      const res = await app.inject({ method: 'POST', url: `/terminate?mode=${mode}` });
      assert.equal(res.statusCode, 400, mode);
      assert.deepEqual(res.json(), { error: `invalid termination mode: ${mode} (expected fast or immediate)` });
    }
    assert.deepEqual(computes.calls, []);
  });

  test('unknown paths 404 and wrong methods 405, with empty bodies', async () => {
    const { app } = await server();
    const missing = await app.inject({ method: 'GET', url: '/nope' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.body, '');
    const wrong = await app.inject({ method: 'GET', url: '/configure' });
    assert.equal(wrong.statusCode, 405);
    assert.equal(wrong.body, '');
  });

  test('POST /promote: the spec parsed as a Primary, 200 completed or 500 failed with the reason, 400 for a bad body', async () => {
    const computes = new FakeComputes();
    const { app } = await server(computes);
    const ok = await app.inject({ method: 'POST', url: '/promote', payload: { spec: { ...REQUEST.spec, mode: 'Replica' }, wal_flush_lsn: '0/16b37f0' } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { status: 'completed' });
    const call = computes.calls.at(-1)!;
    assert.equal(call.op, 'promote');
    const arg = call.arg as { spec: ParsedSpec; walFlushLsn: string };
    assert.deepEqual(arg.spec.mode, { type: 'primary' });
    assert.equal(arg.walFlushLsn, '0/16B37F0');
    computes.promoteAnswer = { status: 'failed', error: 'primary is not replica' };
    const failed = await app.inject({ method: 'POST', url: '/promote', payload: { spec: REQUEST.spec, wal_flush_lsn: '0/1' } });
    assert.equal(failed.statusCode, 500);
    assert.deepEqual(failed.json(), { status: 'failed', error: 'primary is not replica' });
    const before = computes.calls.length;
    for (const [payload, error] of [
      [{ spec: REQUEST.spec }, /^wal_flush_lsn: missing field$/],
      [{ spec: REQUEST.spec, wal_flush_lsn: '16B37F0' }, /^wal_flush_lsn: /],
      [{ wal_flush_lsn: '0/1' }, /^spec: missing field$/],
      [{ spec: { ...REQUEST.spec, cluster: 7 }, wal_flush_lsn: '0/1' }, /^spec\.cluster: /],
    ] as const) {
      const res = await app.inject({ method: 'POST', url: '/promote', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.json().error, error);
    }
    assert.equal(computes.calls.length, before, 'nothing reached the compute');
    computes.fail = new ComputeError('invalid_status', 'invalid compute status: empty');
    const notRunning = await app.inject({ method: 'POST', url: '/promote', payload: { spec: REQUEST.spec, wal_flush_lsn: '0/1' } });
    assert.equal(notRunning.statusCode, 412);
  });

  test('GET /openapi.json describes every route, and live answers match it', async () => {
    const computes = new FakeComputes();
    const { app } = await server(computes);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.0.3');
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/autoscaling_metrics', '/check_writability', '/configure', '/database_schema', '/dbs_and_roles', '/insights', '/lfc/offload', '/lfc/prewarm', '/metrics', '/metrics.json', '/metrics/temporal', '/promote', '/status', '/terminate']);
    const ajv = new Ajv({ strict: false });
    const answers: [string, string, unknown?][] = [
      ['GET', '/status'],
      ['GET', '/metrics.json'],
      ['POST', '/configure', REQUEST],
      ['POST', '/configure', { ...REQUEST, spec: { ...REQUEST.spec, cluster: {} } }],
      ['POST', '/terminate'],
      ['POST', '/terminate?mode=gently'],
      ['GET', '/dbs_and_roles'],
      ['POST', '/check_writability'],
      ['GET', '/insights'],
      ['GET', '/database_schema?database=app'],
      ['GET', '/database_schema'],
      ['POST', '/promote', { spec: REQUEST.spec, wal_flush_lsn: '0/16B37F0' }],
      ['POST', '/promote', { spec: REQUEST.spec, wal_flush_lsn: 'yesterday' }],
      ['GET', '/lfc/prewarm'],
      ['GET', '/lfc/offload'],
    ];
    const seen = new Set<string>();
    for (const [method, url, payload] of answers) {
      const res = await app.inject({ method: method as 'GET' | 'POST', url, ...(payload ? { payload: payload as object } : {}) });
      const path = url.split('?')[0];
      // The request too: a body the route took (2xx) fits the document's request body, one it refused (4xx) does not.
      if (payload !== undefined) {
        const body = doc.paths[path][method.toLowerCase()].requestBody?.content?.['application/json']?.schema;
        assert.ok(body, `${method} ${path}: no request body in the document`);
        const fits = ajv.validate(body, payload);
        assert.equal(fits, res.statusCode < 400, `${method} ${url} ${res.statusCode}: the body ${fits ? 'fits' : 'does not fit'} the document (${ajv.errorsText()})`);
      }
      const schema = doc.paths[path][method.toLowerCase()].responses[String(res.statusCode)]?.content?.['application/json']?.schema;
      assert.ok(schema, `${method} ${url}: no ${res.statusCode} answer in the document`);
      assert.ok(ajv.validate(schema, res.json()), `${method} ${url} ${res.statusCode}: ${ajv.errorsText()}`);
      seen.add(`${method} ${path} ${res.statusCode}`);
    }
    // The fake says running; Postgres is unreachable: the probes answer 500 with the reason.
    assert.ok(seen.has('POST /check_writability 500') && seen.has('GET /insights 500') && seen.has('GET /database_schema 500'));
    assert.ok(seen.has('GET /database_schema 400'));
  });

  test('/check_writability and /insights need a running compute', async () => {
    const computes = new FakeComputes();
    computes.statusView = { ...VIEW, status: 'empty' };
    const { app } = await server(computes);
    for (const [method, url] of [['POST', '/check_writability'], ['GET', '/insights']] as const) {
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 412);
      assert.deepEqual(res.json(), { error: 'invalid compute status: empty' });
    }
  });

  test('/autoscaling_metrics (not authenticated) says when the communicator is not there', async () => {
    const { app } = await server();
    const res = await app.inject({ method: 'GET', url: '/autoscaling_metrics' });
    assert.equal(res.statusCode, 500);
    assert.match(res.json().error, /^failed to read the autoscaling metrics: /);
  });

  test('/dbs_and_roles says when Postgres cannot be read', async () => {
    const { app } = await server();
    const res = await app.inject({ method: 'GET', url: '/dbs_and_roles' });
    assert.equal(res.statusCode, 500);
    assert.match(res.json().error, /^failed to read databases and roles: /);
  });
});

describe('hostile requests (decided before anything reaches Temporal)', () => {
  /** JSON text nested `levels` deep (as text: JSON.stringify itself cannot go that deep). */
  const deep = (levels: number, leaf: string) => `${'{"x":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`;
  const specWith = (field: string, json: string) => JSON.stringify(withSpec({ [field]: '@@' })).replace('"@@"', json);
  const withSpec = (patch: Record<string, unknown>) => ({ ...REQUEST, spec: { ...REQUEST.spec, ...patch } });

  test('nesting 10,000 levels deep: 400, whether in a known or an unknown field', async () => {
    const computes = new FakeComputes();
    const { app } = await server(computes);
    for (const payload of [specWith('cluster', deep(10_000, '1')), specWith('unknown_field', deep(10_000, '1')), deep(10_000, '"x"'), `${'['.repeat(10_000)}${']'.repeat(10_000)}`]) {
      const res = await app.inject({ method: 'POST', url: '/configure', headers: { 'content-type': 'application/json' }, payload });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: 'request body is nested deeper than 32 levels' });
    }
    // Brackets inside strings are text, not nesting.
    const text = await app.inject({ method: 'POST', url: '/configure', payload: withSpec({ note: '['.repeat(100) }) });
    assert.equal(text.statusCode, 200);
    assert.deepEqual(computes.calls.filter((c) => c.op === 'configure').length, 1);
  });

  test('a body over 1 MiB: 413 naming the limit', async () => {
    const computes = new FakeComputes();
    const { app } = await server(computes);
    const res = await app.inject({ method: 'POST', url: '/configure', payload: withSpec({ padding: 'x'.repeat(2 * 1024 * 1024) }) });
    assert.equal(res.statusCode, 413);
    assert.deepEqual(res.json(), { error: 'request body is larger than the limit of 1048576 bytes (1 MiB)' });
    assert.deepEqual(computes.calls, []);
  });

  test('x-request-id: a usable one is the update id and is echoed; another is refused with 400', async () => {
    const computes = new FakeComputes();
    const { app } = await server(computes);
    const ok = await app.inject({ method: 'POST', url: '/configure', headers: { 'x-request-id': 'cp-42:retry.1' }, payload: REQUEST });
    assert.equal(ok.headers['x-request-id'], 'cp-42:retry.1');
    assert.equal(computes.calls.at(-1)!.requestId, 'cp-42:retry.1');
    for (const id of ['x'.repeat(4000), 'has space', 'ünïcode', '']) {
      const res = await app.inject({ method: 'POST', url: '/configure', headers: { 'x-request-id': id }, payload: REQUEST });
      assert.equal(res.statusCode, 400, JSON.stringify(id.slice(0, 20)));
      assert.match(res.json().error, /^invalid x-request-id: /);
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'answered with an id of ours');
    }
    assert.equal(computes.calls.length, 1);
  });

  test('ports out of range anywhere in the spec: 400 naming the field', async () => {
    const computes = new FakeComputes();
    const { app } = await server(computes);
    const neon = (patch: Record<string, unknown>) =>
      withSpec({
        storage: undefined,
        tenant_id: 'b0554b632bd4d547a63b86c3630317e8',
        timeline_id: '2414a61ffc94e428f14b5758fe308e13',
        safekeeper_connstrings: ['127.0.0.1:5454'],
        pageserver_connection_info: { shard_count: 0, shards: { '0000': { pageservers: [{ id: 1, libpq_url: 'postgresql://no_user@127.0.0.1:6400', grpc_url: null }] } } },
        ...patch,
      });
    const cases: [unknown, RegExp][] = [
      [withSpec({ storage: { type: 'postgres', connstring: 'postgresql://u@h:99999999/db' } }), /^spec\.storage\.connstring: port "99999999" is not a port number \(1-65535\)$/],
      [withSpec({ storage: { type: 'postgres', connstring: 'host=h port=-1 dbname=db' } }), /^spec\.storage\.connstring: port "-1"/],
      [withSpec({ storage: { type: 'postgres', connstring: 'postgresql://u@h/db?port=0' } }), /^spec\.storage\.connstring: port "0"/],
      [neon({ safekeeper_connstrings: ['127.0.0.1:5454', '127.0.0.1:70000'] }), /^spec\.safekeeper_connstrings\[1\]: port "70000"/],
      [neon({ safekeeper_connstrings: ['nohostport'] }), /^spec\.safekeeper_connstrings\[0\]: "nohostport" is not host:port$/],
      [neon({ pageserver_connection_info: { shard_count: 0, shards: { '0000': { pageservers: [{ id: 1, libpq_url: 'postgresql://no_user@h:65536', grpc_url: null }] } } } }), /^spec\.pageserver_connection_info\.shards\.0000\.pageservers\[0\]\.libpq_url: port "65536"/],
      [withSpec({ cluster: { roles: [], databases: [], postgresql_conf: "listen_addresses='*'\nport=99999999\n" } }), /^spec\.cluster\.postgresql_conf: port "99999999"/],
    ];
    for (const [payload, error] of cases) {
      const res = await app.inject({ method: 'POST', url: '/configure', payload: payload as object });
      assert.equal(res.statusCode, 400, JSON.stringify(res.json()));
      assert.match(res.json().error, error);
    }
    assert.deepEqual(computes.calls, []);
    const fine = await app.inject({ method: 'POST', url: '/configure', payload: withSpec({ storage: { type: 'postgres', connstring: 'postgresql://u@[::1]:5432,h2:5433/db' }, cluster: { roles: [], databases: [], postgresql_conf: "port = '55432' # the compute\n" } }) });
    assert.equal(fine.statusCode, 200, fine.body);
  });
});
