// Storage and disk faults during a start: the upstream going away while the basebackup step runs
// (retried, then `failed` with pg_basebackup's text), and PGDATA's filesystem full or read-only
// (`failed` with the system's text; the next start, once it is fixed, is whole); a Replica whose
// upstream goes away (stays up, says so in /status).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { after, before, describe, test } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { freePort } from '../../src/dev/ports';
import { startUpstream } from '../../src/dev/upstream';
import { configurationRequest, json, postJson, startCompute, startStack, until, type ComputeUnderTest, type Stack } from '../support/stack';

/** A start that fails with `error` in /status (HTTP 500); the failed compute still terminates. */
async function assertStartFails(c: ComputeUnderTest, error: RegExp): Promise<void> {
  const res = await c.api('/configure', postJson(configurationRequest(c.stack, c.pgPort)));
  assert.equal(res.status, 500);
  const failed = await json(await c.api('/status'));
  assert.equal(failed.status, 'failed');
  assert.match(failed.error, error);
  assert.equal((await c.api('/terminate', { method: 'POST' })).status, 200);
}

/** Runs `fn` with a tmpfs of `size` mounted at `mount` (root only), unmounted afterwards whatever happens. */
async function withTmpfs<T>(mount: string, size: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(mount, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', mount]);
  try {
    return await fn();
  } finally {
    execFileSync('umount', ['-l', mount]);
  }
}

describe('storage and disk faults', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    delete process.env.COMPUTE_CTL_FAILPOINTS;
    await stack?.stop();
  });

  test('the upstream going away during the basebackup step: retried, then failed with its text', async () => {
    // An upstream of its own, stopped while the step waits at its start.
    const port = await freePort();
    const upstream = await startUpstream({ pgdata: path.join(stack.tmp, 'doomed-upstream'), port, postgres: stack.postgres, runAs: stack.runAs });
    process.env.COMPUTE_CTL_FAILPOINTS = 'fetchBasebackup-before=sleep(1500)';
    const c = await startCompute(stack, { basebackupRetries: 2 });
    try {
      const request = configurationRequest(stack, c.pgPort, {}, { storage: { type: 'postgres', connstring: upstream.connstring } });
      const configured = c.api('/configure', postJson(request));
      const startup = c.worker.computes.client.workflow.getHandle(`compute-${c.computeId}-startup-1`);
      await until('the basebackup step', async () => {
        const events = (await startup.fetchHistory()).events ?? [];
        return events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fetchBasebackup') ? true : undefined;
      });
      await upstream.stop();
      const res = await configured;
      assert.equal(res.status, 500);
      const failed = await json(await c.api('/status'));
      assert.equal(failed.status, 'failed');
      assert.match(failed.error, /pg_basebackup from the upstream failed \(exit 1\): .*(Connection refused|could not connect)/s);
      // Retried as the override says (2 retries: 3 attempts), then the start failed.
      const connection = await Connection.connect({ address: stack.temporal.address });
      try {
        const history = await new TemporalClient({ connection }).workflow.getHandle(`compute-${c.computeId}-startup-1`).fetchHistory();
        const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
        assert.ok(attempts.includes(3), `the basebackup ran 3 times (attempts ${attempts})`);
      } finally {
        await connection.close();
      }
    } finally {
      delete process.env.COMPUTE_CTL_FAILPOINTS;
      await c.stop();
    }
  });

  test('PGDATA\'s filesystem full: failed with a clear text; once there is room, the next start is whole', async () => {
    // A small filesystem of its own for PGDATA (a fresh cluster's basebackup needs ~25 MB).
    const mount = path.join(stack.tmp, 'small-fs');
    const pgdata = path.join(mount, 'pgdata');
    await withTmpfs(mount, '6m', async () => {
      const c = await startCompute(stack, { pgdata, basebackupRetries: 1 });
      const computeId = c.computeId;
      try {
        await assertStartFails(c, /No space left on device/);
      } finally {
        await c.stop();
      }
      // Room again (a bigger filesystem at the same place): the same compute id starts anew.
      execFileSync('mount', ['-o', 'remount,size=256m', mount]);
      const again = await startCompute(stack, { pgdata, computeId });
      try {
        const res = await again.api('/configure', postJson(configurationRequest(stack, again.pgPort, { roles: [{ name: 'roomy', encrypted_password: null, options: null }] })));
        assert.equal(res.status, 200, JSON.stringify(await json(res)));
        const db = new Client({ connectionString: again.connstr });
        await db.connect();
        try {
          assert.equal((await db.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'roomy'")).rows[0].n, 1);
        } finally {
          await db.end();
        }
        assert.equal(existsSync(path.join(pgdata, '.basebackup')), false, 'no staging left');
      } finally {
        await again.stop();
      }
    });
  });

  test('PGDATA\'s filesystem read-only: failed with a clear text; writable again, the next start is whole', async () => {
    const mount = path.join(stack.tmp, 'ro-fs');
    const pgdata = path.join(mount, 'pgdata');
    await withTmpfs(mount, '256m', async () => {
      const c = await startCompute(stack, { pgdata });
      const computeId = c.computeId;
      try {
        // The pod keeps its status file beside PGDATA (pgdata.status.json): a remount while that
        // write is open is refused with EBUSY, so the remount is tried until no write is in flight.
        await until('the filesystem read-only', async () => {
          execFileSync('mount', ['-o', 'remount,ro', mount], { stdio: 'pipe' });
          return true;
        }, 10_000, 50);
        await assertStartFails(c, /read-only file system/i);
      } finally {
        await c.stop();
      }
      execFileSync('mount', ['-o', 'remount,rw', mount]);
      const again = await startCompute(stack, { pgdata, computeId });
      try {
        const res = await again.api('/configure', postJson(configurationRequest(stack, again.pgPort)));
        assert.equal(res.status, 200, JSON.stringify(await json(res)));
        assert.equal((await json(await again.api('/status'))).status, 'running');
      } finally {
        await again.stop();
      }
    });
  });

  test('a Replica whose upstream goes away stays up and says so; it streams again when the upstream is back', async () => {
    const port = await freePort();
    const pgdata = path.join(stack.tmp, 'fickle-upstream');
    let upstream = await startUpstream({ pgdata, port, postgres: stack.postgres, runAs: stack.runAs });
    const c = await startCompute(stack);
    try {
      const request = configurationRequest(stack, c.pgPort, {}, { mode: 'Replica', storage: { type: 'postgres', connstring: upstream.connstring } });
      assert.equal((await c.api('/configure', postJson(request))).status, 200);
      const streaming = await until('streaming', async () => {
        const s = await json(await c.api('/status'));
        return s.replication?.wal_receiver === 'streaming' ? s : undefined;
      }, 30_000);
      assert.equal(streaming.replication.not_streaming_since, null);
      await upstream.stop();
      const cut = await until('not streaming', async () => {
        const s = await json(await c.api('/status'));
        return s.replication?.not_streaming_since ? s : undefined;
      }, 30_000);
      assert.equal(cut.status, 'running', 'the compute stays up');
      const db = new Client({ connectionString: c.connstr });
      await db.connect();
      try {
        assert.equal((await db.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, true, 'and serves reads');
      } finally {
        await db.end();
      }
      upstream = await startUpstream({ pgdata, port, postgres: stack.postgres, runAs: stack.runAs });
      await until('streaming again', async () => ((await json(await c.api('/status'))).replication?.wal_receiver === 'streaming' ? true : undefined), 60_000);
    } finally {
      await c.stop();
      await upstream.stop();
    }
  });
});
