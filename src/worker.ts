// The in-pod process of one compute: a Temporal worker on task queue compute-<id> (the lifecycle
// workflow and the activities of this compute only) and the external and internal HTTP servers.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { PRIVILEGED_ROLE_PATTERN } from './postgres/catalog/plan';
import { resolveRunAs, type RunAs } from './postgres/os';
import { signalPostmaster } from './postgres/postmaster';
import { terminateSyncSafekeepers } from './storage/neon/safekeepers';
import { createAuthenticator, type Authenticator } from './api/auth';
import { buildExternalServer, buildInternalServer } from './api/server';
import { ComputeClient, DEFAULT_CLIENT_OPTIONS, type ComputeClientOptions } from './client';
import { StatusCache } from './client/status-cache';
import { endDeadAttempts } from './client/takeover';
import { dataConverter } from './codec';
import { fetchComputeConfig } from './controlplane';
import { createMetrics, type ComputeMetrics } from './metrics';
import { parseComputeConfig, type ParsedConfig } from './compute-spec/parse';
import type { JwkJson } from './compute-spec/schema';
import type { LifecycleResult } from './workflows/lifecycle';
import { taskQueueFor } from './compute/ids';
import { workflowCode } from './workflow-bundle';

export interface WorkerOptions {
  computeId: string;
  pgdata: string;
  connstr: string;
  /** Absolute path of the postgres binary. */
  postgres: string;
  /** A ComputeConfig file (`{spec?, compute_ctl_config}`). */
  configPath?: string;
  /** Control-plane base URL to fetch the spec from (§11); conflicts with configPath. */
  controlPlaneUri?: string;
  /** NEON_CONTROL_PLANE_TOKEN */
  controlPlaneToken?: string;
  externalHttpPort: number;
  internalHttpPort: number;
  httpHost: string;
  temporalAddress: string;
  temporalNamespace: string;
  pgUser: string;
  privilegedRoleName: string;
  buildTag: string;
  logLevel: string;
  client?: Partial<ComputeClientOptions>;
  /** Retries of the basebackup step instead of §4.5's 10 (NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES). */
  basebackupRetries?: number;
  /** Lease rounds per lease workflow run before continue-as-new (tests lower it). */
  leaseRoundsPerRun?: number;
  /** History length at which the lifecycle workflow continues-as-new (tests lower it). */
  historyThreshold?: number;
  /** A pre-built workflow bundle (tests bundle once per suite). */
  workflowBundle?: WorkflowBundleOption;
}

export interface RunningWorker {
  externalUrl: string;
  internalUrl: string;
  computes: ComputeClient;
  /** Resolves when the lifecycle workflow has ended (the compute is terminated). */
  finished: Promise<LifecycleResult>;
  shutdown(): Promise<void>;
}

export function validateWorkerOptions(o: WorkerOptions): void {
  if (o.configPath && o.controlPlaneUri) throw new Error('--config and --control-plane-uri cannot be used together');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(o.computeId)) {
    throw new Error(`invalid --compute-id ${JSON.stringify(o.computeId)}: use letters, digits, '.', '_' and '-'`);
  }
  try {
    const url = new URL(o.connstr);
    if (!/^postgres(ql)?:$/.test(url.protocol)) throw new Error('not a postgres URL');
  } catch {
    throw new Error('--connstr must be a URL like postgresql://cloud_admin@127.0.0.1:55432/postgres');
  }
  if (!PRIVILEGED_ROLE_PATTERN.test(o.privilegedRoleName)) {
    throw new Error(`--privileged-role-name ${JSON.stringify(o.privilegedRoleName)} must match ^[a-z_]+$`);
  }
  for (const [flag, port] of [['--external-http-port', o.externalHttpPort], ['--internal-http-port', o.internalHttpPort]] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag} must be a port number`);
  }
}

async function loadConfig(path: string | undefined): Promise<ParsedConfig | null> {
  if (!path) return null;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read --config ${path}: ${(err as Error).message}`);
  }
  try {
    return parseComputeConfig(json);
  } catch (err) {
    throw new Error(`invalid --config ${path}: ${(err as Error).message}`);
  }
}

const END_CHECK_MS = 5_000;

/**
 * Learns when the lifecycle workflow has ended (the compute is terminated): a describe() every few
 * seconds, each under a deadline, woken at once after a /terminate through this worker. (Not an
 * endless result() long-poll: its retries outlive an abort when Temporal restarts.)
 */
function watchForEnd(computes: ComputeClient, computeId: string, stopped: () => boolean) {
  let wake: () => void = () => {};
  let resolveFinished!: (r: LifecycleResult) => void;
  const finished = new Promise<LifecycleResult>((resolve) => (resolveFinished = resolve));
  const done = (async () => {
    while (!stopped()) {
      try {
        const result = await computes.resultIfClosed(computeId);
        if (result) return resolveFinished(result);
      } catch {
        // Temporal unreachable for now: try again
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, END_CHECK_MS);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  })();
  return { finished, done, wake: () => wake() };
}

function urlOf(app: FastifyInstance): string {
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') return String(addr);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '[::1]';
}

/**
 * The external API's authentication (§6.2) with the startup config's keys. Without keys the API is
 * served unauthenticated only on a loopback address; Neon's INSTANCE_ID turns authentication off.
 */
async function apiAuthentication(o: WorkerOptions, keys: readonly JwkJson[]): Promise<Authenticator | null> {
  if (process.env.INSTANCE_ID) {
    console.error('compute-ctl: INSTANCE_ID is set: the external API is served without authentication');
    return null;
  }
  const auth = await createAuthenticator(keys, o.computeId);
  if (auth) return auth;
  if (!isLoopback(o.httpHost)) {
    throw new Error(
      `--http-host ${o.httpHost} is not a loopback address and no JWT keys are configured (compute_ctl_config.jwks.keys): ` +
        "refusing to serve the compute's API without authentication",
    );
  }
  console.error(`compute-ctl: no JWT keys configured (compute_ctl_config.jwks.keys): the API on ${o.httpHost} is served without authentication`);
  return null;
}

/**
 * The Temporal worker of this compute, sized for one compute. Its modules (Core, the workflow
 * runtime, the activities) are loaded only now, after the HTTP servers answer.
 */
async function startTemporalWorker(
  o: WorkerOptions,
  runAs: RunAs | null,
  converter: ReturnType<typeof dataConverter>,
  cache: StatusCache,
  metrics: ComputeMetrics,
): Promise<{ worker: Worker; nativeConnection: NativeConnection; identity: string }> {
  const [{ NativeConnection, Worker }, { installRuntime }, { createActivities }] = await Promise.all([
    import('@temporalio/worker'),
    import('./runtime'),
    import('./activities'),
  ]);
  installRuntime();
  // Unique per process (a container's pid is the same after every restart): a new worker tells
  // its predecessor's unfinished attempts from its own by it.
  const identity = `${process.pid}@${os.hostname()}/${randomBytes(4).toString('hex')}`;
  const nativeConnection = await NativeConnection.connect({ address: o.temporalAddress });
  try {
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: o.temporalNamespace,
      taskQueue: taskQueueFor(o.computeId),
      identity,
      dataConverter: converter,
      ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : workflowCode()),
      activities: createActivities({
        pgdata: o.pgdata,
        postgres: o.postgres,
        connstr: o.connstr,
        runAs,
        internalHttpPort: o.internalHttpPort,
        privilegedRoleName: o.privilegedRoleName,
      }, metrics),
      sinks: cache.sinks(),
      // One compute: its lifecycle, one child at a time and the lease fit in a small cache; three
      // long polls instead of twenty (docs/temporal-notes.md).
      maxCachedWorkflows: 10,
      maxConcurrentWorkflowTaskExecutions: 4,
      workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 2 },
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 1 },
      // After a kill -9 the server holds this worker's next workflow tasks for its sticky queue this
      // long before the restarted worker may take them.
      stickyQueueScheduleToStartTimeout: '1 second',
    });
    return { worker, nativeConnection, identity };
  } catch (err) {
    await nativeConnection.close().catch(() => undefined);
    throw err;
  }
}

export async function runComputeWorker(o: WorkerOptions): Promise<RunningWorker> {
  validateWorkerOptions(o);
  const processStartTime = new Date().toISOString();
  const runAs = resolveRunAs(o.pgUser);

  const converter = dataConverter();
  const connection = await Connection.connect({ address: o.temporalAddress });
  const client = new Client({ connection, namespace: o.temporalNamespace, dataConverter: converter });
  const computes = new ComputeClient(client, { ...DEFAULT_CLIENT_OPTIONS, ...o.client });
  const cache = new StatusCache(computes, o.computeId);
  const metrics = createMetrics(o.buildTag, () => cache.status(o.computeId));
  let config: ParsedConfig | null;
  let auth: Authenticator | null;
  try {
    config = o.controlPlaneUri
      ? await fetchComputeConfig(o.controlPlaneUri, o.computeId, o.controlPlaneToken ?? '', metrics.controlPlaneRequests)
      : await loadConfig(o.configPath);
    auth = await apiAuthentication(o, config?.computeCtlConfig.jwks.keys ?? []);
  } catch (err) {
    await connection.close();
    throw err;
  }
  let stopped = false;
  const endWatch = watchForEnd(computes, o.computeId, () => stopped);

  const external = await buildExternalServer({
    auth,
    computes: cache,
    computeId: o.computeId,
    connstr: o.connstr,
    pgdata: o.pgdata,
    pgbinDir: path.dirname(o.postgres),
    metrics: metrics.registry,
    logLevel: o.logLevel,
    onTerminated: () => endWatch.wake(),
  });
  const internal = await buildInternalServer({ computes: cache, computeId: o.computeId, connstr: o.connstr, logLevel: o.logLevel });
  let temporal: { worker: Worker; nativeConnection: NativeConnection; running: Promise<void> } | null = null;

  const shutdown = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    endWatch.wake();
    await endWatch.done;
    await Promise.allSettled([external.close(), internal.close()]);
    if (temporal) {
      if (temporal.worker.getState() === 'RUNNING') temporal.worker.shutdown();
      await temporal.running.catch(() => undefined);
      await temporal.nativeConnection.close().catch(() => undefined);
    }
    await connection.close().catch(() => undefined);
  };

  try {
    await computes.ensureStarted(o.computeId, {
      spec: config?.spec ?? null,
      processStartTime,
      basebackupRetries: o.basebackupRetries,
      leaseRoundsPerRun: o.leaseRoundsPerRun,
      historyThreshold: o.historyThreshold,
    });
    await cache.seed();
    await external.listen({ host: o.httpHost, port: o.externalHttpPort });
    await internal.listen({ host: o.httpHost, port: o.internalHttpPort });
    const { worker, nativeConnection, identity } = await startTemporalWorker(o, runAs, converter, cache, metrics);
    const running = worker.run();
    running.catch((err) => console.error(`compute-ctl: the Temporal worker stopped: ${(err as Error).message}`));
    temporal = { worker, nativeConnection, running };
    // Steps a dead predecessor left running are retried here now, not after their heartbeat timeout.
    void endDeadAttempts(client, o.computeId, identity).catch((err) =>
      console.error(`compute-ctl: could not take over the steps of the previous worker: ${(err as Error).message}`),
    );
  } catch (err) {
    await shutdown();
    throw err;
  }

  return { externalUrl: urlOf(external), internalUrl: urlOf(internal), computes, finished: endWatch.finished, shutdown };
}

/**
 * The termination fan-out of an OS signal (§9): SIGTERM a running sync-safekeepers, SIGINT the
 * postmaster (fast shutdown: clients disconnected, a shutdown checkpoint). No waiting.
 */
export async function fanOutTermination(pgdata: string): Promise<void> {
  terminateSyncSafekeepers();
  await signalPostmaster(pgdata, 'SIGINT').catch(() => null);
}
