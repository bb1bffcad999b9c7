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
import { emptyMetrics, type StatusView, type TerminateMode } from '../../src/compute/status';
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
}

async function server(computes = new FakeComputes(), onTerminated?: () => void, auth: Authenticator | null = null) {
  const app = await buildExternalServer({ auth, computes, computeId: 'c1', connstr: 'postgresql://cloud_admin@127.0.0.1:1/postgres', pgdata: '/nonexistent', pgbinDir: '/usr/lib/postgresql/15/bin', metrics: new Registry(), logLevel: 'silent', onTerminated });
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

  test('POST /terminate: fast by default, 201 when already terminated, the hook after success', async () => {
    let hooked = 0;
    const { app, computes } = await server(new FakeComputes(), () => hooked++);
    let res = await app.inject({ method: 'POST', url: '/terminate' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { lsn: '0/15D3A28' });
    assert.equal(computes.calls[0].arg, 'fast');
    computes.terminated = true;
    res = await app.inject({ method: 'POST', url: '/terminate?mode=immediate' });
    assert.equal(res.statusCode, 201);
    assert.equal(computes.calls[1].arg, 'immediate');
    assert.equal(hooked, 2);
  });

  test('an unknown termination mode is refused by the route schema and terminates nothing', async () => {
    let hooked = 0;
    const { app, computes } = await server(new FakeComputes(), () => hooked++);
    for (const mode of ['gently', 'FAST', '']) {
      const res = await app.inject({ method: 'POST', url: `/terminate?mode=${mode}` });
      assert.equal(res.statusCode, 400, mode);
      assert.deepEqual(res.json(), { error: `invalid termination mode: ${mode} (expected fast or immediate)` });
    }
    assert.deepEqual(computes.calls, []);
    assert.equal(hooked, 0);
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

  test('GET /openapi.json describes every route, and live answers match it', async () => {
    const computes = new FakeComputes();
    const { app } = await server(computes);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.0.3');
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/autoscaling_metrics', '/check_writability', '/configure', '/database_schema', '/dbs_and_roles', '/insights', '/metrics', '/metrics.json', '/status', '/terminate']);
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
    ];
    const seen = new Set<string>();
    for (const [method, url, payload] of answers) {
      const res = await app.inject({ method: method as 'GET' | 'POST', url, ...(payload ? { payload: payload as object } : {}) });
      const path = url.split('?')[0];
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
