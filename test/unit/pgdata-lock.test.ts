// A step retried while its earlier attempt still runs waits for it: the steps on PGDATA run one at
// a time, in the order they came, whether they succeed or fail; the others are not held.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serializedOnPgdata } from '../../src/activities/pgdata-lock';

test('steps on PGDATA run one at a time, in order, failures included; other activities are not held', async () => {
  const events: string[] = [];
  let releaseFirst!: () => void;
  const first = new Promise<void>((r) => (releaseFirst = r));
  const acts = serializedOnPgdata({
    startPostgres: async (attempt: number) => {
      events.push(`start ${attempt} begins`);
      if (attempt === 1) await first;
      events.push(`start ${attempt} ends`);
      if (attempt === 1) throw new Error('attempt 1 lost');
      return attempt;
    },
    reportStatus: async () => void events.push('report'),
  });
  const one = acts.startPostgres(1 as never).catch((e: Error) => e.message);
  const two = acts.startPostgres(2 as never);
  await new Promise((r) => setImmediate(r));
  await acts.reportStatus();
  assert.deepEqual(events, ['start 1 begins', 'report'], 'the retry waits; a report does not');
  releaseFirst();
  assert.equal(await one, 'attempt 1 lost');
  assert.equal(await two, 2);
  assert.deepEqual(events, ['start 1 begins', 'report', 'start 1 ends', 'start 2 begins', 'start 2 ends']);
});
