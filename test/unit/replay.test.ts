// Determinism guard: the workflow code must replay every recorded history in test/histories (made
// by the integration tests with RECORD_HISTORIES=1). A change that would break running computes
// fails here; guard such changes with patched().
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { installRuntime } from '../../src/runtime';
import { HISTORIES_DIR } from '../support/histories';

const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort();

test('recorded histories exist for every workflow type', () => {
  const types = new Set(files.map((f) => f.split('.')[1]));
  for (const t of ['lifecycle', 'startup', 'reconfigure', 'termination', 'lease', 'promotion']) assert.ok(types.has(t), `no recorded ${t} history`);
});

test('the workflow code replays every recorded history', { timeout: 120_000 }, async () => {
  await installRuntime('ERROR');
  const histories = files.map((f) => {
    const recorded = JSON.parse(readFileSync(path.join(HISTORIES_DIR, f), 'utf8'));
    return { workflowId: recorded.workflowId as string, history: historyFromJSON(recorded.history), file: f };
  });
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    {
      workflowsPath: require.resolve('../../src/workflows'),
      replayName: 'compute-ctl-replay',
      sinks: { compute: { status: { fn: () => undefined, callDuringReplay: true } } },
    },
    histories,
  )) {
    if (result.error) failures.push(`${histories.find((h) => h.workflowId === result.workflowId)?.file}: ${result.error.message}`);
  }
  assert.deepEqual(failures, []);
});
