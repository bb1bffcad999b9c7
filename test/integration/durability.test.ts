// The reason to orchestrate a compute with Temporal: it survives crashes. The worker is killed
// (SIGKILL, via failpoints) at every startup step boundary and in the middle of a basebackup, then
// restarted; Temporal is killed at ten moments of a start and restarted. Each time the compute
// must reach running, whole, from the same start.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { postmasters } from '../support/postmasters';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from 'pg';
import { createActivities } from '../../src/activities';
import { parseConfigurationRequest } from '../../src/compute-spec/parse';
import { startTemporalServer, type TemporalServer } from '../../src/dev/temporal-server';
import { runStartupSteps } from '../../src/workflows/startup-steps';
import { configurationRequest, json, postJson, startCompute, startStack, until, type Stack } from '../support/stack';
import { computeSlot, spawnWorker, type ComputeSlot } from '../support/worker-process';

const ROLES = [{ name: 'survivor', encrypted_password: null, options: null }];
const DATABASES = [{ name: 'survivor db', owner: 'survivor', options: null }];

async function assertWhole(stack: Stack, slot: ComputeSlot): Promise<void> {
  const db = new Client({ host: '127.0.0.1', port: slot.pgPort, user: 'survivor', database: 'survivor db' });
  await db.connect();
  assert.equal((await db.query('SELECT current_user AS u')).rows[0].u, 'survivor');
  await db.end();
  assert.equal(postmasters(stack.postgres, slot.pgdata), 1, 'exactly one postmaster on PGDATA');
  assert.equal(existsSync(path.join(slot.pgdata, '.basebackup')), false, 'no basebackup staging left');
  assert.equal(readFileSync(path.join(slot.pgdata, 'compute_ctl_temp_override.conf'), 'utf8'), '', 'override file truncated');
}

describe('kill -9 the worker during a start, restart it', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const points = [
    'preparePgdata-after',
    'determineStartLsn-after',
    'fetchBasebackup-mid',
    'fetchBasebackup-after',
    'finalizePgdata-after',
    'startPostgres-after',
    'applyCatalog-after',
  ];
  for (const [i, point] of points.entries()) {
    test(`killed at ${point}: the restarted worker brings the compute to running, whole`, async () => {
      const slot = await computeSlot(stack, `kill${i}-${process.pid}`);
      const doomed = spawnWorker(stack, slot, { env: { COMPUTE_CTL_FAILPOINTS: `${point}=kill` } });
      await until('the worker API', async () => ((await doomed.api('/status')).ok ? true : undefined), 60_000);
      // The worker dies while it handles this request.
      await doomed.api('/configure', postJson(configurationRequest(stack, slot.pgPort, { roles: ROLES, databases: DATABASES }))).catch(() => null);
      assert.equal((await doomed.exited).signal, 'SIGKILL');

      const worker = spawnWorker(stack, slot);
      try {
        const status = await until('running after the restart', async () => {
          const s = await json(await worker.api('/status'));
          if (s.status === 'failed') throw Object.assign(new Error(s.error), { final: true });
          return s.status === 'running' ? s : undefined;
        }, 120_000);
        assert.equal(status.error, null);
        await assertWhole(stack, slot);
        // The interrupted step ran again (attempt 2) in the same startup workflow.
        if (point.endsWith('-after') || point === 'fetchBasebackup-mid') {
          const activity = point.replace(/-(after|mid)$/, '');
          const history = await (await import('@temporalio/client')).Connection.connect({ address: stack.temporal.address }).then(async (connection) => {
            try {
              const { Client: TemporalClient } = await import('@temporalio/client');
              return await new TemporalClient({ connection }).workflow.getHandle(`compute-${slot.computeId}-startup-1`).fetchHistory();
            } finally {
              await connection.close();
            }
          });
          const scheduled = new Map<string, string>();
          const attempts: number[] = [];
          const endedBy: string[] = [];
          for (const e of history.events ?? []) {
            if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
            const started = e.activityTaskStartedEventAttributes;
            if (started && scheduled.get(String(started.scheduledEventId)) === activity) {
              attempts.push(started.attempt ?? 1);
              endedBy.push(started.lastFailure?.applicationFailureInfo?.type ?? started.lastFailure?.message ?? '');
            }
          }
          assert.ok(Math.max(...attempts) >= 2, `${activity} was retried (attempts ${attempts})`);
          // The restarted worker ended its predecessor's attempt itself, not a heartbeat timeout.
          assert.deepEqual(endedBy, ['WorkerLost'], `${activity}'s previous attempt ended by ${endedBy}`);
        }
      } finally {
        await worker.api('/terminate?mode=immediate', { method: 'POST' }).catch(() => null);
        await worker.exited;
      }
      assert.equal(postmasters(stack.postgres, slot.pgdata), 0);
    });
  }
});

describe('Temporal killed (-9) at ten moments of a start, restarted on the same database', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ temporalDbFile: true });
  });
  after(async () => {
    delete process.env.COMPUTE_CTL_FAILPOINTS;
    await stack?.stop();
  });

  // Each holds the start at one point for 3 s (the step running, or done with its completion not yet
  // reported) while Temporal dies. A step whose completion Temporal lost runs again: it must find
  // what its earlier attempt did (a postmaster to adopt, roles already there) and never race it.
  const moments: [string, string][] = [
    ['preparePgdata-before', 'preparePgdata'],
    ['preparePgdata-after', 'preparePgdata'],
    ['determineStartLsn-after', 'determineStartLsn'],
    ['fetchBasebackup-before', 'fetchBasebackup'],
    ['fetchBasebackup-mid', 'fetchBasebackup'],
    ['fetchBasebackup-after', 'fetchBasebackup'],
    ['finalizePgdata-after', 'finalizePgdata'],
    ['startPostgres-after', 'startPostgres'],
    ['applyCatalog-before', 'applyCatalog'],
    ['applyCatalog-after', 'applyCatalog'],
  ];
  for (const [point, step] of moments) {
    test(`killed at ${point}: the same start completes, one postmaster, the spec's catalog`, async () => {
      process.env.COMPUTE_CTL_FAILPOINTS = `${point}=sleep(3000)`;
      const compute = await startCompute(stack);
      try {
        const configured = compute.api('/configure', postJson(configurationRequest(stack, compute.pgPort, { roles: ROLES, databases: DATABASES }))).catch(() => null);
        const startup = compute.worker.computes.client.workflow.getHandle(`compute-${compute.computeId}-startup-1`);
        await until(`${step} running`, async () => {
          const d = await startup.describe().catch(() => null);
          const pending = d?.raw.pendingActivities?.map((a) => a.activityType?.name) ?? [];
          return d?.status.name === 'RUNNING' && pending.includes(step) ? true : undefined;
        }, 30_000);
        if (point.endsWith('-mid') || point.endsWith('-after')) await new Promise((r) => setTimeout(r, 500)); // well into the hold
        const port = Number(stack.temporal.address.split(':')[1]);
        await (stack.temporal as TemporalServer).kill();
        await new Promise((r) => setTimeout(r, 1_000));
        stack.temporal = await startTemporalServer({ port, dbFilename: stack.temporalDbFile! });
        await configured;
        // The README's promise: running within 30 s of Temporal answering again, from the same start.
        const status = await until('running', async () => {
          const s = await json(await compute.api('/status'));
          if (s.status === 'failed') throw Object.assign(new Error(s.error), { final: true });
          return s.status === 'running' ? s : undefined;
        }, 30_000);
        assert.equal(status.error, null);
        assert.equal((await startup.describe()).status.name, 'COMPLETED');
        await assert.rejects(compute.worker.computes.client.workflow.getHandle(`compute-${compute.computeId}-startup-2`).describe(), 'no second start');
        await assertWhole(stack, { computeId: compute.computeId, pgdata: compute.pgdata, pgPort: compute.pgPort, connstr: compute.connstr, ext: 0, int: 0 });
      } finally {
        delete process.env.COMPUTE_CTL_FAILPOINTS;
        await compute.stop();
      }
    });
  }
});

describe('a start whose steps run again after later ones (Temporal lost their completions)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  // A Temporal that loses the last moments of its database before a crash hands out steps the pod
  // already ran, up to the whole start: every step must find what its earlier run left, wherever
  // that run got to, and never race it (a second postmaster, PGDATA replaced under a running one).
  for (const from of ['preparePgdata', 'fetchBasebackup', 'finalizePgdata', 'startPostgres', 'applyCatalog'] as const) {
    test(`the start run again from ${from} on a running compute: one postmaster, the spec's catalog`, async () => {
      const slot = await computeSlot(stack, `again-${from}-${process.pid}`);
      const connstr = slot.connstr;
      const acts = createActivities({
        computeId: slot.computeId, configSource: {}, pgdata: slot.pgdata, postgres: stack.postgres, connstr, runAs: stack.runAs, internalHttpPort: 1,
        privilegedRoleName: 'neon_superuser',
      });
      const parsed = parseConfigurationRequest(configurationRequest(stack, slot.pgPort, { roles: ROLES, databases: DATABASES }));
      try {
        await runStartupSteps(acts, parsed, () => Date.now());
        assert.equal(postmasters(stack.postgres, slot.pgdata), 1);
        // The same steps again, from `from` on.
        const order = ['preparePgdata', 'determineStartLsn', 'fetchBasebackup', 'finalizePgdata', 'startPostgres', 'applyCatalog'] as const;
        let lsn = '0/0';
        for (const step of order.slice(order.indexOf(from === 'fetchBasebackup' ? 'determineStartLsn' : from))) {
          if (step === 'determineStartLsn') lsn = (await acts.determineStartLsn(parsed)).lsn;
          else if (step === 'fetchBasebackup') await acts.fetchBasebackup(parsed, lsn);
          else await acts[step](parsed);
        }
        await assertWhole(stack, slot);
      } finally {
        await acts.stopPostgres('immediate').catch(() => undefined);
      }
    });
  }
});
