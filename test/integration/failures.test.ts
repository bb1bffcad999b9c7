// A start that fails: the control plane and the operator (Temporal UI) both see why.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { recordHistories } from '../support/histories';
import { configurationRequest, json, postJson, startCompute, startStack, type ComputeUnderTest, type Stack } from '../support/stack';

describe('a failed start', () => {
  let stack: Stack;
  let compute: ComputeUnderTest;

  before(async () => {
    stack = await startStack();
    compute = await startCompute(stack);
  });
  after(async () => {
    const id = `compute-${compute.computeId}`;
    await recordHistories(compute.worker.computes.client, 'failed-start', [id, `${id}-startup-1`, `${id}-termination`]);
    await compute?.stop();
    await stack?.stop();
  });

  test('/configure answers 500 with the error chain and Postgres stderr', async () => {
    const request = configurationRequest(stack, compute.pgPort);
    request.spec.cluster.settings = [{ name: 'shared_buffers', value: 'lots', vartype: 'string' }] as never[];
    const res = await compute.api('/configure', postJson(request));
    assert.equal(res.status, 500);
    const { error } = await json(res);
    assert.match(error, /^compute configuration failed: "failed to start Postgres\\n\\nCaused by:\\n    Postgres exited unexpectedly with code 1/);
    assert.match(error, /invalid value for parameter \\"shared_buffers\\"/);
  });

  test('/status shows failed with the whole error; the metric follows', async () => {
    const status = await json(await compute.api('/status'));
    assert.equal(status.status, 'failed');
    assert.match(status.error, /^failed to start Postgres\n\nCaused by:\n    Postgres exited unexpectedly with code 1\nPostgres' last messages:\n.*shared_buffers/s);
    const metrics = await (await compute.api('/metrics')).text();
    assert.match(metrics, /^compute_ctl_up\{build_tag="test",status="failed"\} 1$/m);
  });

  test('the startup attempt is a failed workflow execution with the same text', async () => {
    const handle = compute.worker.computes.client.workflow.getHandle(`compute-${compute.computeId}-startup-1`);
    const desc = await handle.describe();
    assert.equal(desc.type, 'computeStartup');
    assert.equal(desc.status.name, 'FAILED');
    await assert.rejects(handle.result(), (err: Error) => {
      assert.match(String((err.cause as Error)?.message), /^failed to start Postgres\n\nCaused by:\n    Postgres exited unexpectedly with code 1/);
      return true;
    });
  });

  test('failed is sticky for /configure (412) but /terminate still works', async () => {
    const res = await compute.api('/configure', postJson(configurationRequest(stack, compute.pgPort)));
    assert.equal(res.status, 412);
    assert.deepEqual(await json(res), { error: 'invalid compute status: failed' });
    const term = await compute.api('/terminate?mode=immediate', { method: 'POST' });
    assert.equal(term.status, 200);
    assert.deepEqual(await json(term), { lsn: null });
  });
});

describe('a compute terminated before it ever started', () => {
  let stack: Stack;
  let compute: ComputeUnderTest;
  before(async () => {
    stack = await startStack();
    compute = await startCompute(stack);
  });
  after(async () => {
    await compute?.stop();
    await stack?.stop();
  });

  test('/terminate from empty answers at once with a null LSN (no hang)', async () => {
    const res = await compute.api('/terminate', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { lsn: null });
    assert.equal((await json(await compute.api('/status'))).status, 'terminated');
    const metrics = await (await compute.api('/metrics')).text();
    assert.match(metrics, /^compute_ctl_up\{build_tag="test",status="terminated"\} 1$/m);
  });
});
