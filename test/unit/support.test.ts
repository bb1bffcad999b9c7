import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { PgLogForwarder } from '../../src/postgres/pg-log';
import { splitPassword } from '../../src/storage/upstream-postgres';
import { errorChain } from '../../src/workflows/errors';

describe('Postgres log forwarding (§1)', () => {
  test('one PG: line per message, continuation lines joined with U+200B', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    const fwd = new PgLogForwarder(stream, (l) => lines.push(l));
    stream.write('2026-01-01 00:00:00.000 UTC [1] LOG:  starting\n2026-01-01 00:00:00.001 UTC [1] ERROR:  bad\n\tDETAIL: more\n');
    stream.end('2026-01-01 00:00:01.000 UTC [1] LOG:  ready\n');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(lines, [
      'PG:2026-01-01 00:00:00.000 UTC [1] LOG:  starting',
      'PG:2026-01-01 00:00:00.001 UTC [1] ERROR:  bad\u200b\tDETAIL: more',
      'PG:2026-01-01 00:00:01.000 UTC [1] LOG:  ready',
    ]);
    assert.match(fwd.tail(), /ready$/);
  });

  test('a message is flushed after 100 ms of silence', async (t) => {
    // The forwarder's timer on a mocked clock: a stall of the machine cannot move it.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const stream = new PassThrough();
    const lines: string[] = [];
    new PgLogForwarder(stream, (l) => lines.push(l));
    stream.write('2026-01-01 00:00:00.000 UTC [1] LOG:  alone\n');
    await new Promise((r) => setImmediate(r)); // the stream delivers the chunk
    t.mock.timers.tick(99);
    assert.deepEqual(lines, [], 'not before 100 ms of silence');
    t.mock.timers.tick(1);
    assert.deepEqual(lines, ['PG:2026-01-01 00:00:00.000 UTC [1] LOG:  alone']);
  });
});

describe('error chains for /status.error', () => {
  test('Temporal wrappers are skipped, causes listed like anyhow', () => {
    const root = ApplicationFailure.nonRetryable('pg_basebackup: connection refused');
    const activity = new ActivityFailure('Activity task failed', 'fetchBasebackup', 'id', RetryState.NON_RETRYABLE_FAILURE, 'identity', root);
    const top = new Error('failed to get basebackup@0/0', { cause: activity });
    assert.equal(errorChain(top), 'failed to get basebackup@0/0\n\nCaused by:\n    pg_basebackup: connection refused');
    assert.equal(errorChain(new Error('a', { cause: new Error('b', { cause: new Error('c') }) })), 'a\n\nCaused by:\n    0: b\n    1: c');
  });
});

describe('upstream connection strings', () => {
  test('a URI password moves to PGPASSWORD, out of the command line', () => {
    assert.deepEqual(splitPassword('postgresql://u:p%40ss@h:5/db'), { connstring: 'postgresql://u@h:5/db', password: 'p@ss' });
    assert.deepEqual(splitPassword('host=h user=u'), { connstring: 'host=h user=u', password: null });
  });
});
