// JWT authentication of the external API (§6.2): the whole matrix of headers, keys and claims on
// every authenticated route, through app.inject() and a fake client that records what reached it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { Registry } from 'prom-client';
import { ADMIN_SCOPE, createAuthenticator, type Authenticator } from '../../src/api/auth';
import { buildExternalServer } from '../../src/api/server';
import type { ComputeOperations } from '../../src/client';
import { emptyMetrics, newLfcStates, type StatusView } from '../../src/compute/views';
import { parseComputeConfig } from '../../src/compute-spec/parse';
import type { JwkJson } from '../../src/compute-spec/schema';
import { devKeys } from '../../src/dev/keys';

const COMPUTE_ID = 'c1';
const VIEW: StatusView = {
  start_time: '2026-11-22T00:00:00.000Z', tenant: null, timeline: null, status: 'running', last_active: null, error: null,
  compute_id: COMPUTE_ID, mode: 'primary', startup_metrics: emptyMetrics(), terminate_lsn: null, pending_restart: [], lsn_lease: null,
};
const REQUEST = {
  compute_ctl_config: { jwks: { keys: [] } },
  spec: { format_version: 1, suspend_timeout_seconds: -1, storage: { type: 'postgres', connstring: 'postgresql://u@h/db' }, cluster: { roles: [], databases: [] } },
};

/** Every authenticated route, as a request. */
const ROUTES = [
  { method: 'GET', url: '/status' },
  { method: 'GET', url: '/metrics.json' },
  { method: 'POST', url: '/configure', payload: REQUEST },
  { method: 'POST', url: '/terminate?mode=immediate' },
  { method: 'GET', url: '/dbs_and_roles' },
  { method: 'POST', url: '/check_writability' },
  { method: 'GET', url: '/insights' },
  { method: 'GET', url: '/database_schema?database=app' },
  { method: 'POST', url: '/promote', payload: { spec: REQUEST.spec, wal_flush_lsn: '0/16B37F0' } },
  { method: 'GET', url: '/lfc/prewarm' },
  { method: 'POST', url: '/lfc/prewarm' },
  { method: 'DELETE', url: '/lfc/prewarm' },
  { method: 'GET', url: '/lfc/offload' },
  { method: 'POST', url: '/lfc/offload' },
] as const;

class RecordingComputes implements ComputeOperations {
  calls: string[] = [];
  async status() {
    this.calls.push('status');
    return VIEW;
  }
  async configure() {
    this.calls.push('configure');
    return VIEW;
  }
  async terminate() {
    this.calls.push('terminate');
    return { lsn: '0/1', already_terminated: false };
  }
  async refreshConfiguration() {
    this.calls.push('refreshConfiguration');
    return true;
  }
  async promote() {
    this.calls.push('promote');
    return { status: 'completed' as const };
  }
  async lfcStates() {
    this.calls.push('lfcStates');
    return newLfcStates();
  }
  async prewarmLfc() {
    this.calls.push('prewarmLfc');
    return { status: 'prewarming' as const };
  }
  async cancelLfcPrewarm() {
    this.calls.push('cancelLfcPrewarm');
    return { status: 'not_prewarmed' as const };
  }
  async offloadLfc() {
    this.calls.push('offloadLfc');
    return { status: 'offloading' as const };
  }
}

async function server(auth: Authenticator | null) {
  const computes = new RecordingComputes();
  const app = await buildExternalServer({ auth, computes, computeId: COMPUTE_ID, connstr: 'postgresql://cloud_admin@127.0.0.1:1/postgres', pgdata: '/nonexistent', pgbinDir: '/usr/lib/postgresql/15/bin', metrics: new Registry(), logLevel: 'silent' });
  return { app, computes };
}

interface Keys {
  privateKey: KeyLike;
  jwk: JwkJson;
}

async function edKeys(): Promise<Keys> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  return { privateKey, jwk: (await exportJWK(publicKey)) as JwkJson };
}

const sign = (claims: Record<string, unknown>, key: KeyLike, alg = 'EdDSA') => new SignJWT(claims).setProtectedHeader({ alg }).sign(key);
const now = () => Math.floor(Date.now() / 1000);

describe('JWT authentication of the external API (§6.2)', () => {
  let mine: Keys;
  let other: Keys;
  let second: Keys;
  before(async () => {
    [mine, other, second] = await Promise.all([edKeys(), edKeys(), edKeys()]);
  });

  /** [what, Authorization header (or null), expected status, expected error text or null when admitted] */
  async function matrix(): Promise<[string, string | null, number, string | null][]> {
    const bearer = async (claims: Record<string, unknown>, key = mine.privateKey) => `Bearer ${await sign(claims, key)}`;
    return [
      ['no header', null, 400, 'invalid authorization token'],
      ['not Bearer', 'Basic dXNlcjpwYXNz', 400, 'invalid authorization token'],
      ['empty Bearer', 'Bearer ', 400, 'invalid authorization token'],
      ['not a JWT', 'Bearer not.a.jwt', 401, 'failed to verify authorization token'],
      ['signed by an unknown key', await bearer({ compute_id: COMPUTE_ID }, other.privateKey), 401, 'failed to verify authorization token'],
      ['expired beyond the leeway', await bearer({ compute_id: COMPUTE_ID, exp: now() - 120 }), 401, 'failed to verify authorization token'],
      ['another scope', await bearer({ compute_id: COMPUTE_ID, scope: 'compute_ctl:other' }), 401, 'failed to verify authorization token'],
      ['admin without audience', await bearer({ scope: ADMIN_SCOPE }), 401, 'missing audience in authorization token claims'],
      ['admin with another audience', await bearer({ scope: ADMIN_SCOPE, aud: ['storage'] }), 401, 'invalid audience in authorization token claims'],
      ['admin with a string audience', await bearer({ scope: ADMIN_SCOPE, aud: 'compute' }), 401, 'failed to verify authorization token'],
      ['no compute_id', await bearer({}), 403, 'missing compute_id in authorization token claims'],
      ['another compute_id', await bearer({ compute_id: 'c2' }), 403, 'invalid compute ID in authorization token claims'],
      ['this compute', await bearer({ compute_id: COMPUTE_ID }), 200, null],
      ['expired within the 60 s leeway', await bearer({ compute_id: COMPUTE_ID, exp: now() - 30 }), 200, null],
      ['nbf in the future (ignored)', await bearer({ compute_id: COMPUTE_ID, nbf: now() + 3600 }), 200, null],
      ['admin for the compute audience', await bearer({ scope: ADMIN_SCOPE, aud: ['compute', 'x'] }), 200, null],
      ['the second key verifies', await bearer({ compute_id: COMPUTE_ID }, second.privateKey), 200, null],
    ];
  }

  test('every authenticated route answers the whole matrix; rejected requests reach nothing', async () => {
    const auth = await createAuthenticator([mine.jwk, second.jwk], COMPUTE_ID);
    const cases = await matrix();
    for (const route of ROUTES) {
      for (const [what, header, status, error] of cases) {
        const { app, computes } = await server(auth);
        const res = await app.inject({ ...route, headers: header === null ? {} : { authorization: header } });
        const where = `${route.method} ${route.url}, ${what}`;
        if (error === null) {
          // Admitted: the route itself answered (/dbs_and_roles has no Postgres here: its own 500).
          assert.ok(![400, 401, 403].includes(res.statusCode), `${where}: ${res.statusCode} ${res.body}`);
        } else {
          assert.equal(res.statusCode, status, where);
          assert.deepEqual(res.json(), { error }, where);
          assert.deepEqual(computes.calls, [], `${where}: the request reached the compute`);
        }
      }
    }
  });

  test('a rejected POST /terminate terminates nothing', async () => {
    const { app, computes } = await server(await createAuthenticator([mine.jwk], COMPUTE_ID));
    const res = await app.inject({ method: 'POST', url: '/terminate', headers: { authorization: `Bearer ${await sign({ compute_id: 'c2' }, mine.privateKey)}` } });
    assert.equal(res.statusCode, 403);
    assert.deepEqual(computes.calls, []);
  });

  test('/metrics, /metrics/temporal, /autoscaling_metrics and /openapi.json need no token', async () => {
    const { app } = await server(await createAuthenticator([mine.jwk], COMPUTE_ID));
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    // No Temporal worker in this test: its own 503, not an authentication error.
    const temporal = await app.inject({ method: 'GET', url: '/metrics/temporal' });
    assert.deepEqual([temporal.statusCode, temporal.json()], [503, { error: 'the Temporal worker of this compute is not running yet' }]);
    assert.equal((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200);
    // No communicator here: its own 500, not an authentication error.
    assert.equal((await app.inject({ method: 'GET', url: '/autoscaling_metrics' })).statusCode, 500);
  });

  test('RS256 when a key says so', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), alg: 'RS256' } as JwkJson;
    const { app } = await server(await createAuthenticator([jwk], COMPUTE_ID));
    const ok = await app.inject({ method: 'GET', url: '/status', headers: { authorization: `Bearer ${await sign({ compute_id: COMPUTE_ID }, privateKey, 'RS256')}` } });
    assert.equal(ok.statusCode, 200);
    const ed = await app.inject({ method: 'GET', url: '/status', headers: { authorization: `Bearer ${await sign({ compute_id: COMPUTE_ID }, mine.privateKey)}` } });
    assert.equal(ed.statusCode, 401);
  });

  test('the local stacks\' keys: a startup config the worker accepts, an admin token it admits, made once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'compute-ctl-keys-'));
    try {
      const keys = await devKeys(dir);
      const config = parseComputeConfig(JSON.parse(await readFile(keys.configPath, 'utf8')));
      assert.equal(config.spec, null);
      const auth = await createAuthenticator(config.computeCtlConfig.jwks.keys, 'any-compute');
      await auth!.check(`Bearer ${keys.adminToken}`);
      assert.equal((await stat(path.join(dir, 'admin.token'))).mode & 0o777, 0o600);
      assert.deepEqual(await devKeys(dir), keys);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('no keys: no authenticator; an unusable key is reported and verifies nothing', async () => {
    assert.equal(await createAuthenticator([], COMPUTE_ID), null);
    const warnings: string[] = [];
    const auth = await createAuthenticator([{ kty: 'oct', k: 'c2VjcmV0' } as JwkJson], COMPUTE_ID, (m) => warnings.push(m));
    assert.match(warnings[0], /^compute_ctl_config\.jwks\.keys\[0\] is not a usable EdDSA key/);
    await assert.rejects(auth!.check(`Bearer ${await sign({ compute_id: COMPUTE_ID }, mine.privateKey)}`), { statusCode: 401 });
  });
});
