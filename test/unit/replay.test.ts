// Determinism guard: the workflow code must replay every recorded history in test/histories (made
// by the integration tests with RECORD_HISTORIES=1). A change that would break running computes
// fails here; guard such changes with patched().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installRuntime } from '../../src/temporal/core-runtime';
import { failingReplays, recordedHistories } from '../support/histories';

const files = recordedHistories().map((h) => h.file);

test('recorded histories exist for every workflow type', () => {
  const types = new Set(files.map((f) => f.split('.')[1]));
  for (const t of ['lifecycle', 'startup', 'reconfigure', 'termination', 'lease', 'promotion']) assert.ok(types.has(t), `no recorded ${t} history`);
});

test('the workflow code replays every recorded history', { timeout: 120_000 }, async () => {
  await installRuntime('ERROR');
  assert.deepEqual(await failingReplays(require.resolve('../../src/workflows')), []);
});
