// The fleet layout on a real Temporal cluster (temporal-server v1.29.1 with PostgreSQL persistence,
// its frontend, history, matching and worker services each in its own process): pods that are
// activity workers on their own queues, two orchestrator processes on the shared queue. A start, a
// reconfiguration, a termination; idle computes that send Temporal nothing but their polls; kill -9
// of the orchestrator running a start and of the history service in the middle of one: the start
// completes, once, with one postmaster.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { ComputeClient, DEFAULT_CLIENT_OPTIONS } from '../../src/client';
import { startupWorkflowId } from '../../src/compute/ids';
import type { StatusView } from '../../src/compute/views';
import { postmasters } from '../support/postmasters';
import { configurationRequest, json, postJson, until } from '../support/stack';
import { useWorkerProcesses, type ComputeSlot, type OrchestratorProcess, type WorkerProcess } from '../support/worker-process';

const ROLES = [{ name: 'fleet_owner', encrypted_password: null, options: null }];
const DATABASES = [{ name: 'fleetdb', owner: 'fleet_owner', options: null }];

describe('a fleet on a real Temporal cluster', () => {
  const t = useWorkerProcesses({ cluster: true, orchestrators: 0 });
  let orchestrators: OrchestratorProcess[];
  let connection: Connection;
  let client: TemporalClient;
  let computes: ComputeClient;

  before(async () => {
    orchestrators = [await t.orchestrator(), await t.orchestrator()];
    for (const o of orchestrators) await until('the orchestrator serving', async () => ((await fetch(`${o.url}/healthz`).catch(() => null))?.ok ? true : undefined), 60_000);
    connection = await Connection.connect({ address: t.stack.temporal.address });
    client = new TemporalClient({ connection });
    computes = new ComputeClient(client, DEFAULT_CLIENT_OPTIONS);
  });
  after(async () => {
    await connection?.close();
  });

  async function pod(name: string, env: Record<string, string> = {}): Promise<{ slot: ComputeSlot; w: WorkerProcess }> {
    const slot = await t.slot(`${name}-${process.pid}`);
    const w = t.spawn(slot, { env });
    await until(`${name}'s API`, async () => ((await w.api('/status').catch(() => null))?.ok ? true : undefined), 60_000);
    return { slot, w };
  }

  const statusOf = async (w: WorkerProcess): Promise<StatusView> => json(await w.api('/status'));

  /** The pod's /status is the lifecycle's view, but for what only the pod observes. */
  async function agrees(w: WorkerProcess, slot: ComputeSlot): Promise<StatusView> {
    const [fromPod, fromWorkflow] = await Promise.all([statusOf(w), computes.status(slot.computeId)]);
    const { last_active: _a, replication: _r, stale, pg_version: _v, ...rest } = fromPod;
    assert.equal(stale, undefined);
    assert.deepEqual({ ...rest, last_active: null }, fromWorkflow);
    return fromPod;
  }

  async function configure(slot: ComputeSlot, w: WorkerProcess, roles = ROLES): Promise<StatusView> {
    const res = await w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort, { roles, databases: DATABASES })));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    return body;
  }

  test('pods and two orchestrators: a start, a reconfiguration, a termination; each pod reads what its workflow holds', async () => {
    const fleet = await Promise.all(['fleet-a', 'fleet-b', 'fleet-c'].map((n) => pod(n)));
    for (const { slot, w } of fleet) {
      assert.equal((await configure(slot, w)).status, 'running');
      await agrees(w, slot);
    }
    const [a] = fleet;
    const again = await configure(a.slot, a.w, [...ROLES, { name: 'second', encrypted_password: null, options: null }]);
    assert.equal(again.status, 'running');
    await agrees(a.w, a.slot);
    const terminated = await a.w.api('/terminate', { method: 'POST' });
    assert.equal(terminated.status, 200);
    assert.match((await json(terminated)).lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal((await statusOf(a.w)).status, 'terminated');
    assert.equal(postmasters(t.stack.postgres, a.slot.pgdata), 0);
    // Every step of every compute ran in its own pod; every workflow task on an orchestrator.
    const history = await client.workflow.getHandle(startupWorkflowId(a.slot.computeId, 1)).fetchHistory();
    const activityWorkers = new Set(history.events?.flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.identity] : [])));
    const workflowWorkers = new Set(history.events?.flatMap((e) => (e.workflowTaskCompletedEventAttributes ? [e.workflowTaskCompletedEventAttributes.identity] : [])));
    assert.equal(activityWorkers.size, 1, `one pod ran the steps: ${[...activityWorkers]}`);
    assert.ok([...workflowWorkers].every((id) => id?.startsWith('orchestrator-')), `orchestrators ran the workflow: ${[...workflowWorkers]}`);
    // The terminated pod would serve 30 s more (§9) and then shut its worker down (a ShutdownWorker
    // request), in the middle of the next test's idle window: it is stopped now.
    a.w.proc.kill('SIGKILL');
    await a.w.exited;
  });

  test('idle computes send Temporal nothing but their long polls', async () => {
    const idle = await Promise.all(['idle-a', 'idle-b'].map((n) => pod(n)));
    for (const { slot, w } of idle) await configure(slot, w);
    // Let the last reports and the migrations settle, then watch the frontend for a while.
    await new Promise((r) => setTimeout(r, 3_000));
    const before = await t.stack.cluster!.frontendRequests();
    await new Promise((r) => setTimeout(r, 20_000));
    const after = await t.stack.cluster!.frontendRequests();
    const grew = [...after].filter(([op, n]) => n > (before.get(op) ?? 0) && !op.startsWith('Poll')).map(([op, n]) => `${op} +${n - (before.get(op) ?? 0)}`);
    assert.deepEqual(grew, [], 'no request but polls while the computes are idle');
    for (const { w } of idle) assert.equal((await statusOf(w)).status, 'running');
  });

  /** A pod whose start is held in its basebackup step (3 s), with that step running. */
  async function startHeldInBasebackup(name: string) {
    const { slot, w } = await pod(name, { COMPUTE_CTL_FAILPOINTS: 'fetchBasebackup-before=sleep(3000)' });
    const configured = w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort, { roles: ROLES, databases: DATABASES })));
    const startup = client.workflow.getHandle(startupWorkflowId(slot.computeId, 1));
    await until('the basebackup step running', async () => {
      const d = await startup.describe().catch(() => null);
      return d?.raw.pendingActivities?.some((a) => a.activityType?.name === 'fetchBasebackup') ? true : undefined;
    }, 30_000);
    return { slot, w, configured, startup };
  }

  /** The held start completed: running, its one startup workflow completed, one postmaster, the pod agreeing. */
  async function assertOneStart(s: Awaited<ReturnType<typeof startHeldInBasebackup>>): Promise<void> {
    const res = await s.configured;
    assert.equal(res.status, 200, await res.text());
    assert.equal((await statusOf(s.w)).status, 'running');
    assert.equal((await s.startup.describe()).status.name, 'COMPLETED');
    await assert.rejects(client.workflow.getHandle(startupWorkflowId(s.slot.computeId, 2)).describe(), 'no second start');
    assert.equal(postmasters(t.stack.postgres, s.slot.pgdata), 1);
    await agrees(s.w, s.slot);
  }

  test('kill -9 of the orchestrator running a start: the other carries it on; one start, one postmaster', async () => {
    const held = await startHeldInBasebackup('orch-kill');
    // The orchestrator that ran the start's last workflow task holds it in its cache.
    const events = (await held.startup.fetchHistory()).events ?? [];
    const holder = [...events].reverse().find((e) => e.workflowTaskCompletedEventAttributes)!.workflowTaskCompletedEventAttributes!.identity!;
    const victim = orchestrators.find((o) => o.log().includes(holder));
    assert.ok(victim, `the orchestrator ${holder} is one of ours`);
    victim.proc.kill('SIGKILL');
    assert.equal((await victim.exited).signal, 'SIGKILL');
    await assertOneStart(held);
    // A new orchestrator for the next test (two again).
    orchestrators = [orchestrators.find((o) => o !== victim)!, await t.orchestrator()];
  });

  test('kill -9 of the history service mid-start: the start completes once it is back; one start, one postmaster', async () => {
    const held = await startHeldInBasebackup('history-kill');
    await t.stack.cluster!.kill('history');
    await new Promise((r) => setTimeout(r, 2_000));
    await t.stack.cluster!.restart('history');
    await assertOneStart(held);
  });
});
