// The worker's boot as a pod sees it: the API answers before Temporal is reached, a worker whose
// Temporal is not up yet keeps retrying and comes up with it, and a restarted worker answers with
// the status its compute had, not `empty`.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { startTemporalServer } from '../../src/dev/temporal-server';
import { freePort } from '../../src/dev/ports';
import { statusFileFor } from '../../src/pod/compute-view';
import { configurationRequest, json, postJson, startOrchestrator, until } from '../support/stack';
import { useWorkerProcesses, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

const statusOf = async (w: WorkerProcess) => json(await w.api('/status'));

describe('worker boot', () => {
  const t = useWorkerProcesses();
  const spawn = (slot: ComputeSlot, env: Record<string, string> = {}) => t.spawn(slot, { env });

  test('Temporal unreachable at boot: the API answers, operations are 503, and it comes up with Temporal', async () => {
    const slot = await t.slot(`late-temporal-${process.pid}`);
    const port = await freePort();
    const w = spawn(slot, { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    const first = await until('/status', () => statusOf(w).catch(() => undefined));
    assert.equal(first.status, 'empty');
    assert.equal(first.compute_id, slot.computeId);

    const refused = await w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort)));
    assert.equal(refused.status, 503);
    assert.match((await json(refused)).error, /^the compute's workflow is not reachable yet: /);
    await until('the retry logged', async () => (/connecting to Temporal at .* failed, retrying/.test(w.log()) ? true : undefined));
    // …and said in /status: the view is a new compute's, not confirmed by Temporal.
    const stale = await until('/status says so', async () => ((await statusOf(w)).stale ? statusOf(w) : undefined));
    assert.equal(stale.status, 'empty');
    assert.ok(stale.stale.reason.length > 0);
    assert.equal(w.proc.exitCode, null, 'the worker keeps running');

    const late = await startTemporalServer({ port });
    const orchestrator = await startOrchestrator(late.address, t.stack.bundle);
    try {
      const configured = await until('configure accepted', async () => {
        const res = await w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort)));
        return res.status === 200 ? json(res) : undefined;
      });
      assert.equal(configured.status, 'running');
      const up = await statusOf(w);
      assert.equal(up.status, 'running');
      assert.equal(up.stale, undefined, 'no longer stale');
      const terminated = await w.api('/terminate', { method: 'POST' });
      assert.equal(terminated.status, 200);
    } finally {
      w.proc.kill('SIGKILL');
      await orchestrator.shutdown();
      await late.stop();
    }
  });

  test('a restarted worker answers with the status its compute had, even before Temporal answers', async () => {
    const slot = await t.slot(`restarted-${process.pid}`);
    const w1 = spawn(slot);
    await until('/status', () => statusOf(w1).catch(() => undefined));
    const res = await w1.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort)));
    assert.equal(res.status, 200, await res.text());
    const running = await statusOf(w1);
    assert.equal(running.status, 'running');
    await until('the status kept on disk', async () => {
      const kept = JSON.parse(await readFile(statusFileFor(slot.pgdata), 'utf8').catch(() => '{}'));
      return kept.view?.status === 'running' ? kept : undefined;
    });
    w1.proc.kill('SIGKILL');
    await w1.exited;

    // Temporal out of reach: the kept view, exactly as the previous worker served it.
    const w2 = spawn(slot, { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
    const { stale, ...fromDisk } = await until('/status', () => statusOf(w2).catch(() => undefined));
    assert.deepEqual(fromDisk, running);
    // …marked as not confirmed by Temporal: a probe with --temporal fails until the pod reaches its lifecycle.
    assert.ok(stale.reason.length > 0);
    w2.proc.kill('SIGKILL');
    await w2.exited;

    // With Temporal: the same compute, still running, through the workflow.
    const w3 = spawn(slot);
    await until('/status', () => statusOf(w3).catch(() => undefined));
    const terminated = await w3.api('/terminate', { method: 'POST' });
    assert.equal(terminated.status, 200);
    assert.equal((await statusOf(w3)).status, 'terminated');
  });

  test('a compute id used again after /terminate starts a new lifecycle and keeps serving', async () => {
    const slot = await t.slot(`again-${process.pid}`);
    const w1 = spawn(slot);
    await until('/status', () => statusOf(w1).catch(() => undefined));
    assert.equal((await w1.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort)))).status, 200);
    assert.equal((await w1.api('/terminate', { method: 'POST' })).status, 200);
    // As a pod's worker does in the 30 s it keeps serving after a termination: the end is kept.
    await until('the end kept on disk', async () => {
      const kept = JSON.parse(await readFile(statusFileFor(slot.pgdata), 'utf8').catch(() => '{}'));
      return kept.view?.status === 'terminated' ? true : undefined;
    });
    w1.proc.kill('SIGKILL');
    await w1.exited;

    const w2 = spawn(slot);
    const fresh = await until('/status', () => statusOf(w2).catch(() => undefined));
    assert.equal(fresh.status, 'empty');
    assert.equal(fresh.terminate_lsn, null);
    const res = await w2.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort)));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'running');
    // Still serving a while later: the ended lifecycle was not taken for this one's end.
    await new Promise((r) => setTimeout(r, 6_000));
    assert.equal(w2.proc.exitCode, null);
    assert.equal((await statusOf(w2)).status, 'running');
    assert.equal((await w2.api('/terminate', { method: 'POST' })).status, 200);
  });
});
