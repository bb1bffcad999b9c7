// Workflow logic tested fast: the real Temporal dev server, the real workflow code on an
// orchestrator, and fake activities in place of Postgres and storage on the compute's own queue, as
// its pod would serve them (no Postgres is started). One server, bundle and orchestrator per test
// file; an activity worker per test.
import { after, before } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { ComputeActivities } from '../../src/activities';
import { instrumented } from '../../src/activities/instrument';
import { ComputeClient, DEFAULT_CLIENT_OPTIONS } from '../../src/client';
import { taskQueueFor } from '../../src/compute/ids';
import { freePort } from '../../src/dev/ports';
import { startTemporalServer, type TemporalServer } from '../../src/dev/temporal-server';
import type { RunningOrchestrator } from '../../src/orchestrator';
import { installRuntime } from '../../src/temporal/core-runtime';
import { startOrchestrator } from './stack';

export interface WorkflowEnv {
  server: TemporalServer;
  client: Client;
  computes: ComputeClient;
  bundle: WorkflowBundleWithSourceMap;
  nativeConnection: NativeConnection;
  orchestrator: RunningOrchestrator;
}

const quietLogger = { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: (m: string) => console.error(m) };

/** A describe() block's Temporal server, client, workflow bundle and orchestrator. */
export function useWorkflowEnv(): WorkflowEnv {
  const env = {} as WorkflowEnv;
  let connection: Connection;
  before(async () => {
    await installRuntime('ERROR');
    const [server, bundle] = await Promise.all([
      freePort().then((port) => startTemporalServer({ port })),
      bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger }),
    ]);
    connection = await Connection.connect({ address: server.address });
    env.server = server;
    env.bundle = bundle;
    env.client = new Client({ connection });
    env.computes = new ComputeClient(env.client, { ...DEFAULT_CLIENT_OPTIONS, operationTimeoutMs: 60_000 });
    env.nativeConnection = await NativeConnection.connect({ address: server.address });
    env.orchestrator = await startOrchestrator(server.address, bundle);
  });
  after(async () => {
    await env.orchestrator?.shutdown();
    await env.nativeConnection?.close();
    await connection?.close();
    await env.server?.stop();
  });
  return env;
}

/**
 * Runs `fn` while an activity worker polls the compute's queue (compute-<computeId>) with the given
 * activities, wrapped as the real ones are (heartbeats, failpoints, failure translation).
 */
export async function withWorker<T>(env: WorkflowEnv, computeId: string, activities: ComputeActivities, fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: taskQueueFor(computeId),
    activities: instrumented(activities),
  });
  return worker.runUntil(fn);
}

let counter = 0;
export function newComputeId(name: string): string {
  return `${name}-${process.pid}-${++counter}`;
}
