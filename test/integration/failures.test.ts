// A start that fails: the control plane and the operator (Temporal UI) both see why.
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { describe, test } from 'node:test';
import { assertStatusAgrees, configurationRequest, json, postJson, useCompute } from '../support/stack';

describe('a failed start', () => {
  const t = useCompute({ name: 'failed-start', children: ['startup-1', 'termination'] });

  test('/configure answers 500 with the error chain and Postgres stderr', async () => {
    const request = configurationRequest(t.stack, t.compute.pgPort);
    request.spec.cluster.settings = [{ name: 'shared_buffers', value: 'lots', vartype: 'string' }] as never[];
    const res = await t.compute.api('/configure', postJson(request));
    assert.equal(res.status, 500);
    const { error } = await json(res);
    assert.match(error, /^compute configuration failed: "failed to start Postgres\\n\\nCaused by:\\n    Postgres exited unexpectedly with code 1/);
    assert.match(error, /invalid value for parameter \\"shared_buffers\\"/);
  });

  test('/status shows failed with the whole error; the metric follows', async () => {
    const status = await assertStatusAgrees(t.compute);
    assert.equal(status.status, 'failed');
    assert.match(status.error ?? '', /^failed to start Postgres\n\nCaused by:\n    Postgres exited unexpectedly with code 1\nPostgres' last messages:\n.*shared_buffers/s);
    const metrics = await (await t.compute.api('/metrics')).text();
    assert.match(metrics, /^compute_ctl_up\{build_tag="test",status="failed"\} 1$/m);
  });

  test('the startup attempt is a failed workflow execution with the same text', async () => {
    const handle = t.compute.worker.computes.client.workflow.getHandle(`compute-${t.compute.computeId}-startup-1`);
    const desc = await handle.describe();
    assert.equal(desc.type, 'computeStartup');
    assert.equal(desc.status.name, 'FAILED');
    await assert.rejects(handle.result(), (err: Error) => {
      // Typed by its step, with the step's own typed failure as its cause (through the activity's):
      // what the UI's result panel and a client reading the failure see.
      const failure = err.cause as ApplicationFailure;
      assert.equal(failure.type, 'PostgresStartFailed');
      assert.equal(failure.message, 'failed to start Postgres');
      assert.ok(failure.cause instanceof ActivityFailure, `the cause is the activity's failure: ${String(failure.cause)}`);
      const step = failure.cause.cause as ApplicationFailure;
      assert.equal(step.type, 'PostgresStartFailed');
      assert.match(step.message, /^Postgres exited unexpectedly with code 1/);
      return true;
    });
    // Not retried: the same PGDATA and configuration would fail again. Exactly one attempt.
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType?.name]));
    const startAttempts = events
      .filter((e) => e.activityTaskStartedEventAttributes && scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) === 'startPostgres')
      .map((e) => e.activityTaskStartedEventAttributes!.attempt);
    assert.deepEqual(startAttempts, [1]);
  });

  test('failed is sticky for /configure (412) but /terminate still works', async () => {
    const res = await t.compute.api('/configure', postJson(configurationRequest(t.stack, t.compute.pgPort)));
    assert.equal(res.status, 412);
    assert.deepEqual(await json(res), { error: 'invalid compute status: failed' });
    const term = await t.compute.api('/terminate?mode=immediate', { method: 'POST' });
    assert.equal(term.status, 200);
    assert.deepEqual(await json(term), { lsn: null });
  });
});

describe('a compute terminated before it ever started', () => {
  const t = useCompute();

  test('/terminate from empty answers at once with a null LSN (no hang)', async () => {
    const res = await t.compute.api('/terminate', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { lsn: null });
    assert.equal((await json(await t.compute.api('/status'))).status, 'terminated');
    const metrics = await (await t.compute.api('/metrics')).text();
    assert.match(metrics, /^compute_ctl_up\{build_tag="test",status="terminated"\} 1$/m);
  });
});
