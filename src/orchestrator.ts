// The orchestrator (`compute-ctl orchestrator`): a workflow worker on the shared queue, serving the
// lifecycle workflows of every compute, with no activities and no access to any compute's Postgres.
// Any number run side by side; each workflow schedules its steps on its compute's own queue, which
// only that compute's pod polls. A small HTTP server answers /healthz and Core's /metrics.
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import { DEFAULT_ORCHESTRATOR_QUEUE } from './compute/ids';
import { log, setLogContext } from './log';

export interface OrchestratorOptions {
  temporalAddress: string;
  temporalNamespace: string;
  /** The shared queue of the lifecycle workflows (every pod and client must name the same). */
  taskQueue: string;
  /** Workflows kept in memory between their tasks (a cached one costs no replay). */
  maxCachedWorkflows: number;
  /** Long polls on the shared queue (at least its partitions, to be served evenly). */
  workflowPollers: number;
  /** /healthz and /metrics; none when the port is null. */
  httpHost: string;
  httpPort: number | null;
  /** A pre-built workflow bundle (tests bundle once per suite). */
  workflowBundle?: WorkflowBundleOption;
  /** The payload key (else COMPUTE_CTL_PAYLOAD_KEY[_FILE]): the pods' and the orchestrators' must be the same. */
  payloadKey?: string;
}

export const DEFAULT_ORCHESTRATOR_OPTIONS = {
  taskQueue: DEFAULT_ORCHESTRATOR_QUEUE,
  maxCachedWorkflows: 2_000,
  workflowPollers: 4,
  httpHost: '127.0.0.1',
  httpPort: null,
} satisfies Partial<OrchestratorOptions>;

export interface RunningOrchestrator {
  identity: string;
  /** Where /healthz and /metrics answer, if served. */
  url: string | null;
  /** Settles when the worker has stopped (shutdown, or a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** /healthz (200 while the worker runs) and Core's worker metrics at /metrics. */
function healthServer(worker: Worker, coreMetrics: () => Promise<string | null>): Server {
  return createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && url === '/healthz') {
      const state = worker.getState();
      res.writeHead(state === 'RUNNING' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ state }));
    } else if (req.method === 'GET' && url === '/metrics') {
      void coreMetrics().then((text) => {
        if (text === null) res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no metrics yet' }));
        else res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
      });
    } else res.writeHead(404).end();
  });
}

export async function runOrchestrator(o: OrchestratorOptions): Promise<RunningOrchestrator> {
  const identity = `orchestrator-${process.pid}@${os.hostname()}/${randomBytes(4).toString('hex')}`;
  setLogContext({ orchestrator: identity });
  const [{ NativeConnection, Worker }, runtime, { dataConverter }, { workflowCode }] = await Promise.all([
    import('@temporalio/worker'),
    import('./temporal/core-runtime'),
    import('./temporal/payload-codec'),
    import('./workflow-bundle'),
  ]);
  await runtime.installRuntime();
  const connection: NativeConnection = await NativeConnection.connect({ address: o.temporalAddress });
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection,
      namespace: o.temporalNamespace,
      taskQueue: o.taskQueue,
      identity,
      dataConverter: o.payloadKey ? dataConverter(o.payloadKey) : dataConverter(),
      ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : workflowCode()),
      maxCachedWorkflows: o.maxCachedWorkflows,
      workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: Math.max(2, o.workflowPollers) },
      // A workflow cached here whose next task waits on this orchestrator's sticky queue goes to
      // the shared queue (another orchestrator) after this long: what a dead orchestrator costs.
      stickyQueueScheduleToStartTimeout: '2 seconds',
    });
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
  const done = worker.run();
  done.catch((err) => log('error', `the orchestrator's worker stopped: ${(err as Error).message}`));
  let server: Server | null = null;
  let url: string | null = null;
  if (o.httpPort !== null) {
    server = healthServer(worker, () => runtime.coreMetrics());
    const srv = server;
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(o.httpPort!, o.httpHost, () => resolve()));
    const addr = srv.address() as { port: number };
    url = `http://${o.httpHost.includes(':') ? `[${o.httpHost}]` : o.httpHost}:${addr.port}`;
  }
  log('info', `orchestrator ${identity} serves the lifecycle workflows on task queue ${o.taskQueue} at ${o.temporalAddress}${url ? `; health at ${url}/healthz` : ''}`);
  return {
    identity,
    url,
    done: done.catch(() => undefined),
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await connection.close().catch(() => undefined);
    },
  };
}
