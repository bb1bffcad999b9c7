// The lifecycle workflow's logic with fake activities (no Postgres): the interleavings of requests,
// Postgres dying, the retry policies of the steps, continue-as-new.
import type { ParsedSpec } from '../../src/compute-spec/parse';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { temporalCliPath } from '../../src/dev/temporal-server';
import { ComputeFailure, FAILURE } from '../../src/compute/failures';
import { invalidStatusMessage } from '../../src/compute/texts';
import { parseComputeSpec } from '../../src/compute-spec/parse';
import { ComputeClient, ComputeError, DEFAULT_CLIENT_OPTIONS } from '../../src/client';
import { HTTP_STATUS } from '../../src/api/common';
import { fakeCompute, type FakeCompute } from '../support/fake-activities';
import { until } from '../support/stack';
import { newComputeId, useWorkflowEnv, withWorker, type WorkflowEnv } from '../support/workflow-env';

const spec = (roles: string[] = []) =>
  parseComputeSpec({
    format_version: 1,
    suspend_timeout_seconds: -1,
    storage: { type: 'postgres', connstring: 'postgresql://nobody@127.0.0.1:1/postgres' },
    cluster: { roles: roles.map((name) => ({ name, encrypted_password: null, options: null })), databases: [] },
  });

const TENANT = 'b0554b632bd4d547a63b86c3630317e8';
const TIMELINE = '2414a61ffc94e428f14b5758fe308e13';
const neonSpec = parseComputeSpec({
  format_version: 1,
  suspend_timeout_seconds: -1,
  tenant_id: TENANT,
  timeline_id: TIMELINE,
  pageserver_connstring: 'postgresql://no@127.0.0.1:1',
  safekeeper_connstrings: ['127.0.0.1:2'],
  cluster: { roles: [], databases: [] },
});

async function rejection(p: Promise<unknown>): Promise<ComputeError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ComputeError, `not a ComputeError: ${String(err)}`);
  return err;
}

/** Runs a compute's lifecycle with `fake` as its activities. */
async function withCompute<T>(
  env: WorkflowEnv,
  fake: FakeCompute,
  fn: (computeId: string) => Promise<T>,
  opts: { historyThreshold?: number; basebackupRetries?: number } = {},
): Promise<T> {
  const computeId = newComputeId('wf');
  fake.deliverTo((exit) => env.computes.reportPostgresExit(computeId, exit));
  return withWorker(env, computeId, fake.activities, async () => {
    await env.computes.ensureStarted(computeId, opts);
    return fn(computeId);
  });
}

const status = async (env: WorkflowEnv, id: string) => (await env.computes.status(id)).status;

describe('lifecycle workflow (fake activities)', () => {
  const env = useWorkflowEnv();

  test('configure → running → terminate, with the startup metrics and the final LSN', async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      assert.equal(await status(env, id), 'empty');
      const running = await env.computes.configure(id, spec(['alice']));
      assert.equal(running.status, 'running');
      assert.equal(running.startup_metrics.basebackup_bytes, 1234);
      assert.equal(running.startup_metrics.pageserver_connect_micros, 56);
      assert.equal(running.error, null);
      assert.equal(fake.count('startPostgres'), 1);
      assert.deepEqual(await env.computes.terminate(id, 'fast'), { lsn: '0/16B37F0', already_terminated: false });
      assert.deepEqual(fake.calls.stopPostgres, [['fast']]);
      assert.equal(await status(env, id), 'terminated');
      // A repeated /terminate answers from the closed workflow's memo.
      assert.deepEqual(await env.computes.terminate(id, 'fast'), { lsn: '0/16B37F0', already_terminated: true });
    });
  });

  test('a second /configure while the first is starting is refused with the status; the first completes', async () => {
    const fake = fakeCompute();
    const gate = fake.hold('startPostgres');
    await withCompute(env, fake, async (id) => {
      const first = env.computes.configure(id, spec());
      await gate.reached;
      assert.equal(await status(env, id), 'init');
      const second = await rejection(env.computes.configure(id, spec(['bob'])));
      assert.equal(second.kind, 'invalid_status');
      assert.equal(second.message, 'invalid compute status: init');
      gate.release();
      assert.equal((await first).status, 'running');
      assert.equal(fake.count('startPostgres'), 1);
    });
  });

  test('a reconfiguration runs reloadConfig and applyCatalog (not a first start) and reports pending_restart', async () => {
    const fake = fakeCompute({ applyCatalog: async () => ({ statements: 1, phases: [], pendingRestart: ['shared_buffers'] }) });
    await withCompute(env, fake, async (id) => {
      await env.computes.configure(id, spec());
      const again = await env.computes.configure(id, spec(['carol']));
      assert.equal(again.status, 'running');
      assert.deepEqual(again.pending_restart, ['shared_buffers']);
      assert.equal(fake.count('startPostgres'), 1);
      assert.equal(fake.count('reloadConfig'), 1);
      assert.deepEqual(fake.calls.applyCatalog.map((args) => args[1]), [undefined, { firstStart: false }]);
    });
  });

  test('Postgres dying during a reconfiguration fails the compute with its exit, and the /configure with it', async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      await env.computes.configure(id, spec());
      const gate = fake.hold('reloadConfig');
      const reconfigure = env.computes.configure(id, spec(['dave']));
      await gate.reached;
      await fake.exitPostgres({ code: 1, signal: null });
      gate.release();
      const err = await rejection(reconfigure);
      assert.equal(err.kind, 'configuration_failed');
      const s = await env.computes.status(id);
      assert.equal(s.status, 'failed');
      assert.equal(s.error, 'Postgres exited unexpectedly with code 1');
      const refused = await rejection(env.computes.configure(id, spec()));
      assert.equal(refused.message, 'invalid compute status: failed');
      // A failed compute can still be terminated; Postgres is not running, so no final LSN is read.
      assert.deepEqual(await env.computes.terminate(id, 'fast'), { lsn: null, already_terminated: false });
      assert.equal(fake.count('finalLsn'), 0);
    });
  });

  test('Postgres dying late in a reconfiguration: its exit, recorded before the last step ended, fails the /configure', async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      await env.computes.configure(id, spec());
      // The exit reaches the lifecycle while the last step of the reconfiguration still runs.
      const gate = fake.hold('applyCatalog');
      const reconfigure = env.computes.configure(id, spec(['late']));
      await gate.reached;
      await fake.exitPostgres({ code: null, signal: 'SIGKILL' });
      gate.release();
      const err = await rejection(reconfigure);
      assert.equal(err.kind, 'configuration_failed');
      assert.match(err.message, /killed by signal SIGKILL/);
      assert.equal(await status(env, id), 'failed');
    });
  });

  test('Postgres dying right after a reconfiguration ended: the /configure answers running, then the compute fails', async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      await env.computes.configure(id, spec());
      const done = await env.computes.configure(id, spec(['early']));
      assert.equal(done.status, 'running');
      await fake.exitPostgres({ code: 3, signal: null });
      const s = await until('failed', async () => {
        const v = await env.computes.status(id);
        return v.status === 'failed' ? v : undefined;
      });
      assert.equal(s.error, 'Postgres exited unexpectedly with code 3');
    });
  });

  test("an exit of a postmaster that is not the compute's (stopped by the lifecycle, an earlier start's) fails nothing", async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      await env.computes.configure(id, spec());
      const ours = fake.pid;
      await env.computes.reportPostgresExit(id, { pid: ours + 100, exit: { code: 1, signal: null } });
      // The same report twice (sent again after an outage): taken once.
      await env.computes.reportPostgresExit(id, { pid: ours + 100, exit: { code: 1, signal: null } });
      assert.equal((await env.computes.configure(id, spec(['x']))).status, 'running');
      assert.equal(await status(env, id), 'running');
      // Its termination stops Postgres; the pod reports that exit too (the fake does), and the compute ends terminated.
      assert.deepEqual(await env.computes.terminate(id, 'fast'), { lsn: '0/16B37F0', already_terminated: false });
      assert.equal((await env.computes.status(id)).error, null);
    });
  });

  test('every status view reaches the pod, newest last, in the order of their versions', async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      const running = await env.computes.configure(id, spec(['alice']));
      await until('the running view reported', async () => (fake.reports.at(-1)?.view.status === 'running' ? true : undefined));
      const versions = fake.reports.map((r) => r.version);
      assert.deepEqual(versions, [...versions].sort((a, b) => a - b), 'reports arrive in order');
      assert.equal(new Set(fake.reports.map((r) => r.lifecycle)).size, 1, 'one lifecycle');
      assert.deepEqual(fake.reports.at(-1)!.view, running);
      await env.computes.terminate(id, 'immediate');
      await until('the end reported', async () => (fake.reports.at(-1)?.view.status === 'terminated' ? true : undefined));
      assert.equal(fake.reports.at(-1)!.terminateMode, 'immediate');
    });
  });

  test('Postgres killed while running: failed with the signal', async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      await env.computes.configure(id, spec());
      await fake.exitPostgres({ code: null, signal: 'SIGKILL' });
      const s = await until('failed', async () => {
        const v = await env.computes.status(id);
        return v.status === 'failed' ? v : undefined;
      });
      assert.equal(s.error, 'Postgres exited unexpectedly: killed by signal SIGKILL');
    });
  });

  test('a startup that fails is typed by its step and backend, as the Temporal UI lists it', async () => {
    const withSpec = (fields: Record<string, unknown>): ParsedSpec => ({ ...spec(), spec: { ...spec().spec, ...fields } });
    const cases = [
      { step: 'preparePgdata', parsed: spec(), type: 'PgdataPrepareFailed' },
      { step: 'determineStartLsn', parsed: spec(), type: 'StartLsnFailed' },
      { step: 'determineStartLsn', parsed: neonSpec, type: 'SyncSafekeepersFailed' },
      { step: 'fetchBasebackup', parsed: spec(), type: 'BasebackupFailed' },
      { step: 'finalizePgdata', parsed: spec(), type: 'ConfigWriteFailed' },
      { step: 'startPostgres', parsed: spec(), type: 'PostgresStartFailed' },
      { step: 'applyCatalog', parsed: spec(), type: 'CatalogFailed' },
      { step: 'resizeSwap', parsed: withSpec({ swap_size_bytes: 1 << 20 }), type: 'SwapResizeFailed' },
      { step: 'setDiskQuota', parsed: withSpec({ disk_quota_bytes: 1 << 20 }), type: 'DiskQuotaFailed' },
      { step: 'configureLocalProxy', parsed: withSpec({ local_proxy_config: { jwks: [] } }), type: 'LocalProxyConfigFailed' },
    ] as const;
    for (const c of cases) {
      const fake = fakeCompute({
        [c.step]: async () => {
          throw ComputeFailure.permanent(FAILURE.catalogFailed, `${c.step} broke`);
        },
      });
      await withCompute(env, fake, async (id) => {
        await rejection(env.computes.configure(id, c.parsed));
        const failure = await env.client.workflow.getHandle(`compute-${id}-startup-1`).result().then(
          () => assert.fail('the startup succeeded'),
          (err: { cause?: { type?: string } }) => err.cause,
        );
        assert.equal(failure?.type, c.type, `${c.step} on ${c.parsed.storage.type}`);
      });
    }
  });

  test('search attributes: computes are found by id, status and mode; each child says what it is', async () => {
    const list = async (query: string) => {
      const ids: string[] = [];
      for await (const w of env.client.workflow.list({ query })) ids.push(w.workflowId);
      return ids.sort();
    };
    const fine = newComputeId('wf');
    const broken = newComputeId('wf');
    await withWorker(env, fine, fakeCompute().activities, async () => {
      await env.computes.ensureStarted(fine, { searchAttributes: true });
      await env.computes.configure(fine, spec(['alice']));
      const lifecycle = `compute-${fine}`;
      await until('listed as running', async () =>
        (await list(`ComputeId = "${fine}" AND ComputeStatus = "running" AND ComputeMode = "primary"`)).includes(lifecycle) ? true : undefined,
      );
      await until('the children carry the id', async () => ((await list(`ComputeId = "${fine}"`)).includes(`${lifecycle}-startup-1`) ? true : undefined));
      const startup = await env.client.workflow.getHandle(`${lifecycle}-startup-1`).describe();
      assert.equal(await startup.staticSummary(), `start 1 (primary, postgres storage) of compute ${fine}`);
      assert.equal(await (await env.computes.handle(fine).describe()).staticSummary(), `compute ${fine}`);
      // No version markers (core_patch) in a new compute's history: nothing for an operator to wade through.
      const events = (await env.computes.handle(fine).fetchHistory()).events ?? [];
      assert.deepEqual(events.filter((e) => e.markerRecordedEventAttributes).map((e) => e.markerRecordedEventAttributes!.markerName), []);
    });
    const fake = fakeCompute({
      startPostgres: async () => {
        throw ComputeFailure.permanent(FAILURE.postgresStartFailed, 'no');
      },
    });
    await withWorker(env, broken, fake.activities, async () => {
      await env.computes.ensureStarted(broken, { searchAttributes: true });
      await rejection(env.computes.configure(broken, spec()));
      await until('listed as failed', async () => ((await list(`ComputeStatus = "failed" AND ComputeId = "${broken}"`)).length === 1 ? true : undefined));
    });
    assert.deepEqual(await list(`ComputeStatus = "failed" AND ComputeId = "${fine}"`), []);

    // A Neon compute: found by its tenant and timeline, its children too; and from the Temporal CLI.
    const tenants = newComputeId('wf');
    await withWorker(env, tenants, fakeCompute().activities, async () => {
      await env.computes.ensureStarted(tenants, { searchAttributes: true });
      await env.computes.configure(tenants, neonSpec);
      const query = `TenantId = "${TENANT}" AND TimelineId = "${TIMELINE}" AND ComputeId = "${tenants}"`;
      await until('listed by tenant and timeline', async () =>
        (await list(query)).join() === [`compute-${tenants}`, `compute-${tenants}-startup-1`].join() ? true : undefined,
      );
      const cli = execFileSync(temporalCliPath(), ['workflow', 'list', '--address', env.server.address, '--query', query, '--output', 'json'], { encoding: 'utf8' });
      assert.deepEqual((JSON.parse(cli) as { execution: { workflowId: string } }[]).map((w) => w.execution.workflowId).sort(), [`compute-${tenants}`, `compute-${tenants}-startup-1`]);
    });
  });

  test('a step that fails for good is tried once: the error chain in /status, Postgres stopped', async () => {
    let attempts = 0;
    const fake = fakeCompute({
      startPostgres: async () => {
        attempts++;
        throw ComputeFailure.permanent(FAILURE.postgresStartFailed, 'Postgres exited unexpectedly with code 1');
      },
    });
    await withCompute(env, fake, async (id) => {
      const err = await rejection(env.computes.configure(id, spec()));
      assert.equal(err.kind, 'configuration_failed');
      assert.equal(err.message, `compute configuration failed: ${JSON.stringify('failed to start Postgres\n\nCaused by:\n    Postgres exited unexpectedly with code 1')}`);
      assert.equal(attempts, 1);
      const startup = await env.client.workflow.getHandle(`compute-${id}-startup-1`).describe();
      assert.equal(startup.status.name, 'FAILED');
    });
  });

  test('a SQL error of the catalog fails at once and Postgres is stopped (§4.1 step 7)', async () => {
    const fake = fakeCompute({
      applyCatalog: async () => {
        throw ComputeFailure.permanent(FAILURE.catalogFailed, 'role "x" does not exist');
      },
    });
    await withCompute(env, fake, async (id) => {
      await rejection(env.computes.configure(id, spec()));
      assert.equal(fake.count('applyCatalog'), 1);
      assert.deepEqual(fake.calls.stopPostgres, [['immediate']]);
      assert.equal(await status(env, id), 'failed');
    });
  });

  test('transient failures are retried by the step policy: the start LSN (§4.4) until it succeeds', async () => {
    let attempts = 0;
    const fake = fakeCompute({
      determineStartLsn: async () => {
        if (++attempts < 3) throw ComputeFailure.transient(FAILURE.upstreamUnreachable, 'connection refused');
        return { lsn: '0/1', checkMs: 0, syncMs: 0 };
      },
    });
    await withCompute(env, fake, async (id) => {
      assert.equal((await env.computes.configure(id, spec())).status, 'running');
      assert.equal(attempts, 3);
    });
  });

  test('the basebackup is tried retries + 1 times, then the start fails with its text', async () => {
    const fake = fakeCompute({
      fetchBasebackup: async () => {
        throw new Error('pageserver went away');
      },
    });
    await withCompute(
      env,
      fake,
      async (id) => {
        await rejection(env.computes.configure(id, spec()));
        assert.equal(fake.count('fetchBasebackup'), 3);
        const s = await env.computes.status(id);
        assert.equal(s.error, 'failed to get basebackup@0/16B3748\n\nCaused by:\n    pageserver went away');
      },
      { basebackupRetries: 2 },
    );
  });

  test('/terminate while a start or a reconfiguration runs: 412 with the reference text, nothing stopped', async () => {
    const fake = fakeCompute();
    await withCompute(env, fake, async (id) => {
      const starting = fake.hold('startPostgres');
      const configuring = env.computes.configure(id, spec());
      await starting.reached;
      const during = await rejection(env.computes.terminate(id, 'fast'));
      assert.deepEqual([during.kind, during.message], ['invalid_status', invalidStatusMessage('init')]);
      starting.release();
      assert.equal((await configuring).status, 'running');

      const applying = fake.hold('applyCatalog');
      const reconfiguring = env.computes.configure(id, spec(['late']));
      await applying.reached;
      const meanwhile = await rejection(env.computes.terminate(id, 'immediate'));
      assert.deepEqual([meanwhile.kind, meanwhile.message], ['invalid_status', invalidStatusMessage('configuration')]);
      assert.deepEqual(fake.calls.stopPostgres ?? [], []);
      applying.release();
      assert.equal((await reconfiguring).status, 'running');
    });
  });

  test('no orchestrator polling: /status answers from the memo; an operation ends at its deadline as a timeout (HTTP 504)', async () => {
    // A queue no orchestrator serves.
    const computes = new ComputeClient(env.client, { ...DEFAULT_CLIENT_OPTIONS, queryTimeoutMs: 1_000, operationTimeoutMs: 1_500, orchestratorQueue: 'nobody-serves-this' });
    const id = newComputeId('wf');
    await computes.ensureStarted(id);
    // No worker for the lifecycle: the query cannot be answered, the memo can.
    const s = await computes.status(id);
    assert.equal(s.status, 'empty');
    assert.equal(s.compute_id, id);
    const err = await rejection(computes.configure(id, spec()));
    assert.equal(err.kind, 'timeout');
    assert.equal(err.message, 'timed out waiting for the compute; the operation continues in the background');
    assert.equal(HTTP_STATUS[err.kind], 504);
    await env.client.workflow.getHandle(`compute-${id}`).terminate('test done');
  });

  test("by default the basebackup is retried 10 times, 500 ms then ×1.5 (§4.5: Neon's policy), as the history records it", async () => {
    const scheduled = async (id: string) => {
      const events = (await env.client.workflow.getHandle(`compute-${id}-startup-1`).fetchHistory()).events ?? [];
      const at = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fetchBasebackup')!;
      const started = events.find((e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === at.eventId?.toString());
      const policy = at.activityTaskScheduledEventAttributes!.retryPolicy!;
      return {
        maximumAttempts: policy.maximumAttempts,
        initialIntervalMs: Number(policy.initialInterval?.seconds ?? 0) * 1000 + (policy.initialInterval?.nanos ?? 0) / 1e6,
        backoffCoefficient: policy.backoffCoefficient,
        attempt: started?.activityTaskStartedEventAttributes?.attempt,
      };
    };
    // Two failures, then the basebackup comes: 0.5 s and 0.75 s of backoff, not the full ten.
    let calls = 0;
    const flaky = fakeCompute({
      fetchBasebackup: async () => {
        if (++calls < 3) throw new Error('pageserver went away');
        return { bytes: 1234, connectMicros: 56 };
      },
    });
    await withCompute(env, flaky, async (id) => {
      assert.equal((await env.computes.configure(id, spec())).status, 'running');
      assert.deepEqual(await scheduled(id), { maximumAttempts: 11, initialIntervalMs: 500, backoffCoefficient: 1.5, attempt: 3 });
    });
    // NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES bounds it.
    await withCompute(env, fakeCompute(), async (id) => {
      await env.computes.configure(id, spec());
      assert.equal((await scheduled(id)).maximumAttempts, 3);
    }, { basebackupRetries: 2 });
  });

  test('continue-as-new keeps the whole status, still fails on the postmaster it started, and terminates', async () => {
    const fake = fakeCompute();
    await withCompute(
      env,
      fake,
      async (id) => {
        const handle = env.client.workflow.getHandle(`compute-${id}`);
        const firstRun = (await handle.describe()).runId;
        const running = await env.computes.configure(id, spec(['erin']));
        await until('a new run', async () => ((await handle.describe()).runId !== firstRun ? true : undefined), 30_000);
        assert.deepEqual(await env.computes.status(id), running);
        // The new run knows the postmaster the first run started.
        await fake.exitPostgres({ code: 2, signal: null });
        await until('failed', async () => ((await status(env, id)) === 'failed' ? true : undefined));
        assert.equal((await env.computes.terminate(id, 'immediate')).already_terminated, false);
      },
      { historyThreshold: 20 },
    );
  });

  test('a spec given at start (--config) starts the compute without /configure', async () => {
    const fake = fakeCompute();
    const computeId = newComputeId('wf-config');
    await withWorker(env, computeId, fake.activities, async () => {
      await env.computes.ensureStarted(computeId, { spec: spec() });
      await until('running', async () => ((await status(env, computeId)) === 'running' ? true : undefined));
      assert.equal((await env.computes.status(computeId)).startup_metrics.wait_for_spec_ms, 0);
    });
  });
});
