// The internal server's contract (§6.4) with app.inject() and a fake client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildInternalServer } from '../../src/api/server';
import type { ComputeOperations } from '../../src/client';
import { emptyMetrics, type ComputeStatus, type StatusView } from '../../src/compute/status';

function computesIn(status: ComputeStatus): ComputeOperations {
  const view: StatusView = {
    start_time: '2026-11-22T00:00:00.000Z', tenant: null, timeline: null, status, last_active: null, error: null,
    compute_id: 'c1', mode: 'primary', startup_metrics: emptyMetrics(), terminate_lsn: null, pending_restart: [], lsn_lease: null,
  };
  return {
    status: async () => view,
    configure: async () => assert.fail('not called'),
    terminate: async () => assert.fail('not called'),
  };
}

const server = (status: ComputeStatus) =>
  buildInternalServer({ computes: computesIn(status), computeId: 'c1', connstr: 'postgresql://cloud_admin@127.0.0.1:1/postgres', logLevel: 'silent' });

const GRANT = { database: 'db', schema: 'public', role: 'app', privileges: ['USAGE', 'CREATE'] };
const EXTENSION = { extension: 'hstore', database: 'db', version: '1.8' };

describe('internal API contract (app.inject, fake client)', () => {
  test('/grants and /extensions need a running compute', async () => {
    const app = await server('empty');
    for (const [url, payload] of [['/grants', GRANT], ['/extensions', EXTENSION]] as const) {
      const res = await app.inject({ method: 'POST', url, payload });
      assert.equal(res.statusCode, 412, url);
      assert.deepEqual(res.json(), { error: 'invalid compute status: empty' });
    }
  });

  test('an unknown privilege or a missing field is a 422 naming it', async () => {
    const app = await server('running');
    const bad = await app.inject({ method: 'POST', url: '/grants', payload: { ...GRANT, privileges: ['USAGE', 'ALL'] } });
    assert.equal(bad.statusCode, 422);
    assert.match(bad.json().error, /^privileges\.1: /);
    const missing = await app.inject({ method: 'POST', url: '/extensions', payload: { extension: 'hstore', database: 'db' } });
    assert.equal(missing.statusCode, 422);
    assert.match(missing.json().error, /version/);
  });

  test('Postgres unreachable: 500 with Neon\'s texts', async () => {
    const app = await server('running');
    const grant = await app.inject({ method: 'POST', url: '/grants', payload: GRANT });
    assert.equal(grant.statusCode, 500);
    assert.match(grant.json().error, /^failed to grant role privileges to the schema: /);
    const ext = await app.inject({ method: 'POST', url: '/extensions', payload: EXTENSION });
    assert.equal(ext.statusCode, 500);
    assert.match(ext.json().error, /^failed to install extension: /);
  });

  test('/extension_server: remote storage is not configured', async () => {
    const res = await (await server('running')).inject({ method: 'POST', url: '/extension_server/postgis.tar.zst?is_library=true' });
    assert.equal(res.statusCode, 412);
    assert.deepEqual(res.json(), { error: 'remote storage is not configured' });
  });
});
