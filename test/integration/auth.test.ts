// The worker with JWT keys in its startup config (-c), and without keys on a non-loopback address.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { freePort } from '../../src/dev/ports';
import { runComputeWorker } from '../../src/pod/pod';
import { DEFAULT_ORCHESTRATOR_QUEUE } from '../../src/compute/ids';
import { json, startCompute, startStack, type ComputeUnderTest, type Stack } from '../support/stack';

describe('the external API with JWT keys from the startup config', () => {
  let stack: Stack;
  let compute: ComputeUnderTest;
  let privateKey: KeyLike;
  before(async () => {
    stack = await startStack();
    const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    privateKey = pair.privateKey;
    const configPath = path.join(stack.tmp, 'compute-ctl.json');
    await writeFile(configPath, JSON.stringify({ compute_ctl_config: { jwks: { keys: [await exportJWK(pair.publicKey)] } } }));
    compute = await startCompute(stack, { configPath });
  });
  after(async () => {
    await compute?.stop();
    await stack?.stop();
  });

  const token = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).sign(privateKey);

  test('/status needs a token for this compute; /metrics does not', async () => {
    const missing = await compute.api('/status');
    assert.equal(missing.status, 400);
    assert.deepEqual(await json(missing), { error: 'invalid authorization token' });
    const wrong = await compute.api('/status', { headers: { authorization: `Bearer ${await token({ compute_id: 'someone-else' })}` } });
    assert.equal(wrong.status, 403);
    const ok = await compute.api('/status', { headers: { authorization: `Bearer ${await token({ compute_id: compute.computeId })}` } });
    assert.equal(ok.status, 200);
    assert.equal((await json(ok)).status, 'empty');
    assert.equal((await compute.api('/metrics')).status, 200);
  });

  test('a /terminate with a bad token terminates nothing; an admin token does', async () => {
    const refused = await compute.api('/terminate', { method: 'POST', headers: { authorization: `Bearer ${await token({ scope: 'compute_ctl:admin', aud: ['storage'] })}` } });
    assert.equal(refused.status, 401);
    assert.equal((await compute.worker.computes.status(compute.computeId)).status, 'empty');
    const admin = `Bearer ${await token({ scope: 'compute_ctl:admin', aud: ['compute'] })}`;
    const res = await compute.api('/terminate', { method: 'POST', headers: { authorization: admin } });
    assert.equal(res.status, 200);
    assert.equal((await compute.worker.computes.status(compute.computeId)).status, 'terminated');
  });
});

describe('a worker without JWT keys', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test('refuses to serve a non-loopback address', async () => {
    await assert.rejects(
      runComputeWorker({
        computeId: `noauth-${process.pid}`, pgdata: path.join(stack.tmp, 'noauth'), connstr: 'postgresql://cloud_admin@127.0.0.1:1/postgres',
        postgres: stack.postgres, externalHttpPort: await freePort(), internalHttpPort: await freePort(), httpHost: '0.0.0.0',
        temporalAddress: stack.temporal.address, temporalNamespace: 'default', pgUser: 'postgres', privilegedRoleName: 'neon_superuser',
        buildTag: 'test', logLevel: 'warn', orchestratorQueue: DEFAULT_ORCHESTRATOR_QUEUE,
      }),
      /^Error: --http-host 0\.0\.0\.0 is not a loopback address and no JWT keys are configured \(compute_ctl_config\.jwks\.keys\)/,
    );
  });
});
