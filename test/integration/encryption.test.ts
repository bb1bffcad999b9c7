// With COMPUTE_CTL_PAYLOAD_KEY, what Temporal stores holds no secrets, and the compute works as ever.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { AesGcmCodec } from '../../src/temporal/payload-codec';
import { keylessView } from '../support/history-text';
import { configurationRequest, json, postJson, startCompute, startStack, type ComputeUnderTest, type Stack } from '../support/stack';
import { scramVerifier } from '../support/scram';

describe('encrypted payloads', () => {
  let stack: Stack;
  let compute: ComputeUnderTest;
  after(async () => {
    await compute?.stop();
    await stack?.stop();
    delete process.env.COMPUTE_CTL_PAYLOAD_KEY;
  });

  test('history and memo are ciphertext; /status, /configure, /terminate work; errors stay readable', async () => {
    process.env.COMPUTE_CTL_PAYLOAD_KEY = randomBytes(32).toString('base64');
    stack = await startStack();
    compute = await startCompute(stack);
    const verifier = scramVerifier('top-secret');
    const request = configurationRequest(stack, compute.pgPort, { roles: [{ name: 'owner', encrypted_password: verifier, options: null }] }, { storage_auth_token: 'token-that-must-not-leak' });
    const res = await compute.api('/configure', postJson(request));
    assert.equal(res.status, 200, JSON.stringify(await json(res)));

    // Read what Temporal stores with a client that has no key: every payload of every event.
    const connection = await Connection.connect({ address: stack.temporal.address });
    try {
      const ids = [`compute-${compute.computeId}`, `compute-${compute.computeId}-startup-1`];
      const stored = await keylessView(new Client({ connection }), ids);
      assert.ok(stored.payloads.length >= 10, `payloads found (${stored.payloads.length})`);
      // Search attributes excepted: Temporal indexes them, so no codec may touch them (ids, status and mode only).
      const searchAttributes = stored.payloads.filter((p) => p.at.includes('.searchAttributes.indexedFields.'));
      assert.deepEqual(
        [...new Set(searchAttributes.map((p) => p.at.split('.').at(-1)))].sort(),
        ['ComputeId', 'ComputeMode', 'ComputeStatus'],
      );
      const others = stored.payloads.filter((p) => !searchAttributes.includes(p));
      assert.deepEqual(others.filter((p) => p.encoding !== 'binary/encrypted').map((p) => p.at), [], 'every payload is ciphertext');
      const secrets = [verifier, 'token-that-must-not-leak', stack.upstream.connstring];
      for (const secret of secrets) assert.ok(!stored.text.includes(secret), `the history holds no ${secret.slice(0, 20)}…`);
      // The same payloads decrypted with the key do hold them: the search above looks where they are.
      const codec = new AesGcmCodec(Buffer.from(process.env.COMPUTE_CTL_PAYLOAD_KEY!, 'base64'));
      const decrypted = await codec.decode(stored.payloads.map((p) => ({ metadata: p.metadata, data: p.data })));
      const plaintext = decrypted.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');
      for (const secret of secrets) assert.ok(plaintext.includes(secret), `decrypted, the history holds ${secret.slice(0, 20)}…`);
      // (A keyless describe() cannot even decode the memo, which is the point; read it raw.)
      const raw = await connection.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: `compute-${compute.computeId}` } });
      const memo = raw.workflowExecutionInfo?.memo?.fields?.status;
      assert.equal(Buffer.from(memo?.metadata?.encoding ?? []).toString(), 'binary/encrypted');
    } finally {
      await connection.close();
    }
    // With the key, everything reads back: the query, and the memo fallback of describe().
    assert.equal((await json(await compute.api('/status'))).status, 'running');
    const described = await compute.worker.computes.client.workflow.getHandle(`compute-${compute.computeId}`).describe();
    assert.equal((described.memo?.status as { status: string }).status, 'running');
    const term = await compute.api('/terminate', { method: 'POST' });
    assert.equal(term.status, 200);
  });
});
