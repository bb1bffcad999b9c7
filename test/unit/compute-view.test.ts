// The pod's view of its compute: where a booting pod takes it from, that the newest report of a
// lifecycle wins whatever order reports arrive in, that a lifecycle the pod left never comes back,
// and that it is kept on disk.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ComputeView, initialReport, statusFileFor, type Observations } from '../../src/pod/compute-view';
import { newLifecycleState, podReport, statusView, type PodReport } from '../../src/compute/lifecycle-state';
import type { StatusView } from '../../src/compute/views';

const START = '2026-11-22T06:00:00.000Z';
const view = (computeId: string, status: StatusView['status']): StatusView => ({ ...statusView(newLifecycleState(computeId, START)), status });
const report = (lifecycle: string, version: number, status: StatusView['status']): PodReport => ({ lifecycle, version, view: view('c1', status) });
const observed: Observations = { lastActive: () => null, replication: () => ({ wal_receiver: null, not_streaming_since: null }), stale: () => null, pgVersion: 'v15' };

async function tmpFile(): Promise<string> {
  return path.join(await mkdtemp(path.join(os.tmpdir(), 'compute-view-')), 'pgdata.status.json');
}

describe("the pod's view of its compute", () => {
  test('the file sits beside PGDATA', () => {
    assert.equal(statusFileFor('/var/db/compute/pgdata/'), '/var/db/compute/pgdata.status.json');
  });

  test('a booting pod starts from the report kept for its compute, unless that compute ended', async () => {
    const file = await tmpFile();
    const fresh = podReport(newLifecycleState('c1', '2026-11-22T07:00:00.000Z'));
    assert.deepEqual(await initialReport('c1', '2026-11-22T07:00:00.000Z', file), fresh, 'nothing kept: a new compute');
    await writeFile(file, JSON.stringify(report('L1', 4, 'running')));
    assert.deepEqual(await initialReport('c1', '2026-11-22T07:00:00.000Z', file), report('L1', 4, 'running'));
    assert.deepEqual(await initialReport('c2', '2026-11-22T07:00:00.000Z', file), podReport(newLifecycleState('c2', '2026-11-22T07:00:00.000Z')), 'another compute');
    await writeFile(file, JSON.stringify(report('L1', 9, 'terminated')));
    assert.deepEqual(await initialReport('c1', '2026-11-22T07:00:00.000Z', file), fresh, 'an ended lifecycle: a new one starts');
    await writeFile(file, '{not json');
    assert.deepEqual(await initialReport('c1', '2026-11-22T07:00:00.000Z', file), fresh);
  });

  test('the newest report of a lifecycle wins, in whatever order they arrive; it is served and kept', async () => {
    const file = await tmpFile();
    const v = new ComputeView(report('', 0, 'empty'), observed, file);
    v.take(report('L1', 3, 'running'));
    v.take(report('L1', 2, 'init')); // late
    v.take(report('L1', 3, 'failed')); // the same version again: not newer
    assert.equal(v.status().status, 'running');
    assert.equal(v.status().pg_version, 'v15');
    await v.flushed();
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), report('L1', 3, 'running'));
  });

  test('a new lifecycle replaces the old one; a lifecycle the pod left never comes back', async () => {
    const v = new ComputeView(report('L1', 7, 'running'), observed, null);
    v.leave('L1');
    v.takeAtBoot(report('', 0, 'empty')); // the memo a new lifecycle starts with
    assert.equal(v.status().status, 'empty');
    v.take(report('L1', 8, 'failed')); // a late report of the run the pod ended
    assert.equal(v.status().status, 'empty');
    v.take(report('L2', 1, 'empty'));
    v.take(report('L2', 4, 'running'));
    assert.deepEqual(v.current(), report('L2', 4, 'running'));
    v.take(report('L1', 9, 'failed'));
    assert.equal(v.status().status, 'running', 'L1 stays left');
  });

  test("the boot read replaces a kept report that is behind, but not a newer report that raced it", () => {
    const v = new ComputeView(report('L1', 3, 'init'), observed, null);
    v.takeAtBoot(report('L1', 5, 'running'));
    assert.equal(v.status().status, 'running');
    v.take(report('L1', 6, 'configuration_pending'));
    v.takeAtBoot(report('L1', 5, 'running'));
    assert.equal(v.status().status, 'configuration_pending');
  });

  test("a boot read of the memo the lifecycle was started with loses to that lifecycle's first report, which raced it", () => {
    const v = new ComputeView(report('', 0, 'empty'), observed, null);
    v.take(report('L1', 1, 'empty')); // the first task's report, before the describe answered
    v.takeAtBoot(report('L1', 0, 'empty')); // the describe, sent before that task completed: the start memo
    v.take(report('L1', 4, 'failed'));
    assert.deepEqual(v.current(), report('L1', 4, 'failed'), 'L1 is not taken for a lifecycle the pod left');
  });

  test('what the pod observes itself is added to every view it serves', () => {
    let stale: Observations['stale'] = () => null;
    const v = new ComputeView(report('L1', 1, 'running'), { ...observed, lastActive: () => '2026-11-22T08:00:00.000Z', stale: () => stale() }, null);
    assert.equal(v.status().last_active, '2026-11-22T08:00:00.000Z');
    assert.equal(v.status().stale, undefined);
    stale = () => ({ since: '2026-11-22T08:01:00.000Z', reason: 'gone' });
    assert.deepEqual(v.status().stale, { since: '2026-11-22T08:01:00.000Z', reason: 'gone' });
  });
});
