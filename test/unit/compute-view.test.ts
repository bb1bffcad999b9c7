// The worker's own copy of its compute's status: where a booting worker takes it from, and that it
// is kept on disk as the workflow reports it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { initialView, StatusCache, statusFileFor } from '../../src/pod/compute-view';
import { newLifecycleState, statusView } from '../../src/compute/lifecycle-state';
import type { StatusView } from '../../src/compute/status';

const START = '2026-11-22T06:00:00.000Z';
const view = (computeId: string, status: StatusView['status']): StatusView => ({ ...statusView(newLifecycleState(computeId, START)), status });

describe('status cache', () => {
  test('the file sits beside PGDATA', () => {
    assert.equal(statusFileFor('/var/db/compute/pgdata/'), '/var/db/compute/pgdata.status.json');
  });

  test('a booting worker starts from the view kept for its compute, unless that compute ended', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'status-cache-'));
    const file = path.join(dir, 'pgdata.status.json');
    const fresh = statusView(newLifecycleState('c1', '2026-11-22T07:00:00.000Z'));
    assert.deepEqual(await initialView('c1', '2026-11-22T07:00:00.000Z', file), fresh, 'nothing kept: a new compute');
    await writeFile(file, JSON.stringify(view('c1', 'running')));
    assert.deepEqual(await initialView('c1', '2026-11-22T07:00:00.000Z', file), view('c1', 'running'));
    assert.deepEqual(await initialView('c2', '2026-11-22T07:00:00.000Z', file), statusView(newLifecycleState('c2', '2026-11-22T07:00:00.000Z')), 'another compute');
    await writeFile(file, JSON.stringify(view('c1', 'terminated')));
    assert.deepEqual(await initialView('c1', '2026-11-22T07:00:00.000Z', file), fresh, 'an ended lifecycle: a new one starts');
    await writeFile(file, '{not json');
    assert.deepEqual(await initialView('c1', '2026-11-22T07:00:00.000Z', file), fresh);
  });

  test('what the workflow reports is served and kept; other workflows are ignored', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'status-cache-'));
    const file = path.join(dir, 'pgdata.status.json');
    const cache = new StatusCache('c1', view('c1', 'empty'), file);
    const report = cache.sinks().compute.status.fn;
    report({ workflowId: 'compute-c1' } as never, view('c1', 'init'));
    report({ workflowId: 'compute-c1' } as never, view('c1', 'running'));
    report({ workflowId: 'compute-c2' } as never, view('c2', 'failed'));
    assert.equal((await cache.status('c1')).status, 'running');
    await cache.flushed();
    assert.equal(JSON.parse(await readFile(file, 'utf8')).status, 'running');
  });
});
