// The internal server's contract (§6.4) with app.inject() and a fake client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildInternalServer } from '../../src/api/server';
import type { ComputeOperations } from '../../src/client';
import { ComputeError } from '../../src/compute/failures';
import { emptyMetrics, type StatusView } from '../../src/compute/views';
import { REFRESH_ALLOWED, type ComputeStatus } from '../../src/compute/status';
import { refreshRefusedMessage } from '../../src/compute/texts';

function computesIn(status: ComputeStatus, refreshes: ComputeStatus[] = []): ComputeOperations {
  const view: StatusView = {
    start_time: '2026-11-22T00:00:00.000Z', tenant: null, timeline: null, status, last_active: null, error: null,
    compute_id: 'c1', mode: 'primary', startup_metrics: emptyMetrics(), terminate_lsn: null, pending_restart: [], lsn_lease: null,
  };
  return {
    status: async () => view,
    configure: async () => assert.fail('not called'),
    terminate: async () => assert.fail('not called'),
    promote: async () => assert.fail('not called'),
    lfcStates: async () => assert.fail('not called'),
    prewarmLfc: async () => assert.fail('not called'),
    cancelLfcPrewarm: async () => assert.fail('not called'),
    offloadLfc: async () => assert.fail('not called'),
    // As the lifecycle's update validator answers (REFRESH_ALLOWED).
    refreshConfiguration: async () => {
      refreshes.push(status);
      if (!REFRESH_ALLOWED.includes(status)) throw new ComputeError('invalid_status', refreshRefusedMessage(status));
      return status !== 'init';
    },
  };
}

const server = (status: ComputeStatus, onRefreshRequested?: () => void, refreshes?: ComputeStatus[]) =>
  buildInternalServer({ computes: computesIn(status, refreshes), computeId: 'c1', connstr: 'postgresql://cloud_admin@127.0.0.1:1/postgres', logLevel: 'silent', onRefreshRequested });

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

  test('POST /refresh_configuration: 200 empty while it may refresh (a no-op in init), else 500 with Neon\'s text; each one counted', async () => {
    for (const status of ['running', 'failed', 'refresh_configuration_pending', 'init'] as const) {
      let counted = 0;
      const res = await (await server(status, () => counted++)).inject({ method: 'POST', url: '/refresh_configuration' });
      assert.equal(res.statusCode, 200, status);
      assert.equal(res.body, '');
      assert.equal(counted, 1);
    }
    for (const [status, name] of [['empty', 'Empty'], ['configuration', 'Configuration'], ['termination_pending_fast', 'TerminationPendingFast'], ['terminated', 'Terminated']] as const) {
      let counted = 0;
      const res = await (await server(status, () => counted++)).inject({ method: 'POST', url: '/refresh_configuration' });
      assert.equal(res.statusCode, 500, status);
      assert.deepEqual(res.json(), { error: `Cannot refresh compute configuration in state ${name}` });
      assert.equal(counted, 1);
    }
  });
});
