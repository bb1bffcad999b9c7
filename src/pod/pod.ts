// The in-pod process of one compute: a Temporal worker on task queue compute-<id> (the lifecycle
// workflow and the activities of this compute only) and the external and internal HTTP servers.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { isLoopback } from '../loopback';
import type { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { PRIVILEGED_ROLE_PATTERN } from '../postgres/catalog/plan';
import { resolveRunAs, type RunAs } from '../postgres/os';
import { postgresMajorVersion, versionName } from '../postgres/pgbin';
import { livePostmasterPid, signalPostmaster } from '../postgres/postmaster';
import { createAuthenticator, type Authenticator } from '../api/auth';
import { buildExternalServer, buildInternalServer } from '../api/server';
import type { ComputeClient, ComputeClientOptions } from '../client';
import { initialView, StatusCache, statusFileFor } from './compute-view';
import { loadConfig } from '../config-source';
import { createMetrics, type ComputeMetrics } from './metrics';
import { ComputeMonitor } from './compute-monitor';
import { ActivityProbe } from '../postgres/activity';
import { ExtensionStats } from './extension-stats';
import type { JwkJson } from '../compute-spec/schema';
import type { LifecycleResult } from '../workflows/lifecycle';
import type { StatusView } from '../compute/status';
import type { DataConverter } from '@temporalio/common';
import { taskQueueFor } from '../compute/ids';
import { workflowCode } from '../workflow-bundle';
import { log, setLogContext } from '../log';

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
  /** Resolves when the lifecycle workflow exists and this process's Temporal worker runs it. */
  ready: Promise<void>;
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

const END_CHECK_MS = 5_000;

/**
 * Learns when the lifecycle workflow has ended (the compute is terminated): a describe() every few
 * seconds, each under a deadline, woken at once after a /terminate through this worker. (Not an
 * endless result() long-poll: its retries outlive an abort when Temporal restarts.)
 */
function watchForEnd(computes: ComputeClient, computeId: string, stopped: () => boolean, started: Promise<boolean>, cache: StatusCache) {
  let wake: () => void = () => {};
  let resolveFinished!: (r: LifecycleResult) => void;
  const finished = new Promise<LifecycleResult>((resolve) => (resolveFinished = resolve));
  const done = (async () => {
    // Not before this process's run exists: an earlier, ended run of the same compute is not its end.
    if (!(await started)) return;
    while (!stopped()) {
      try {
        const result = await computes.resultIfClosed(computeId);
        cache.temporalReachable();
        if (result) return resolveFinished(result);
      } catch (err) {
        // Temporal unreachable for now: /status says so, operations fail fast; try again.
        cache.temporalUnreachable(reasonOf(err));
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

/**
 * The external API's authentication (§6.2) with the startup config's keys. Without keys the API is
 * served unauthenticated only on a loopback address; Neon's INSTANCE_ID turns authentication off.
 */
async function apiAuthentication(o: WorkerOptions, keys: readonly JwkJson[]): Promise<Authenticator | null> {
  if (process.env.INSTANCE_ID) {
    log('warn', 'INSTANCE_ID is set: the external API is served without authentication');
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
  log('info', `no JWT keys configured (compute_ctl_config.jwks.keys): the API on ${o.httpHost} is served without authentication`);
  return null;
}

/** The Temporal Core runtime, once this process's worker installed it (its metrics come from there). */
let runtime: typeof import('../runtime') | null = null;

/**
 * The Temporal worker of this compute, sized for one compute. Its modules (Core, the workflow
 * runtime, the activities) are loaded only now, after the HTTP servers answer.
 */
async function startTemporalWorker(
  o: WorkerOptions,
  runAs: RunAs | null,
  converter: DataConverter | undefined,
  cache: StatusCache,
  metrics: ComputeMetrics,
): Promise<{ worker: Worker; nativeConnection: NativeConnection; identity: string }> {
  const [{ NativeConnection, Worker }, installed, { createActivities }] = await Promise.all([
    import('@temporalio/worker'),
    import('../runtime'),
    import('../activities'),
  ]);
  await installed.installRuntime();
  runtime = installed;
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
        computeId: o.computeId,
        configSource: { configPath: o.configPath, controlPlaneUri: o.controlPlaneUri, controlPlaneToken: o.controlPlaneToken },
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

const RETRY_MS = { first: 250, max: 5_000 };

/** An error with its causes, as one line ("Failed to start Workflow: 14 UNAVAILABLE: …"). */
function reasonOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) {
    if (!parts.includes(e.message)) parts.push(e.message);
  }
  return parts.join(': ') || String(err);
}

/**
 * Runs `step` until it succeeds or the worker stops, backing off; each new reason it fails for is
 * logged once (Temporal unreachable at boot must not be fatal: it comes up when Temporal does).
 */
async function untilDone<T>(what: string, step: () => Promise<T>, stopped: () => boolean, onFailure: (reason: string) => void): Promise<T | null> {
  let delay = RETRY_MS.first;
  let said = '';
  while (!stopped()) {
    try {
      const result = await step();
      if (said) log('info', `${what}: done`);
      return result;
    } catch (err) {
      const reason = reasonOf(err);
      onFailure(reason);
      if (reason !== said) log('warn', `${what} failed, retrying: ${reason}`);
      said = reason;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, RETRY_MS.max);
    }
  }
  return null;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Temporal's client modules, loaded after the HTTP servers listen: they are most of the boot's
 * require time (the protobuf descriptors alone take ~100 ms of CPU). Loaded a piece at a time, with
 * a turn of the event loop between pieces, so that /status answers during the load.
 */
async function loadTemporalClient() {
  await nextTurn();
  await import('@grpc/grpc-js');
  await nextTurn();
  await import('@temporalio/proto');
  await nextTurn();
  await import('@temporalio/common');
  await nextTurn();
  const { Client, Connection } = await import('@temporalio/client');
  await nextTurn();
  const [{ ComputeClient, DEFAULT_CLIENT_OPTIONS }, { dataConverter }] = await Promise.all([import('../client'), import('../codec')]);
  return { Client, Connection, ComputeClient, DEFAULT_CLIENT_OPTIONS, dataConverter };
}

/**
 * Boots the in-pod process. The HTTP servers listen first, answering /status from the status this
 * process kept (or a new compute's); Temporal is reached afterwards, and retried until it answers.
 */
export async function runComputeWorker(o: WorkerOptions): Promise<RunningWorker> {
  validateWorkerOptions(o);
  setLogContext({ compute_id: o.computeId });
  const processStartTime = new Date().toISOString();
  const runAs = resolveRunAs(o.pgUser);
  const statusFile = statusFileFor(path.resolve(o.pgdata));
  // Known before anything listens: an unsupported server refuses the start with a clear error.
  const pgMajor = postgresMajorVersion(o.postgres);
  const cache = new StatusCache(o.computeId, await initialView(o.computeId, processStartTime, statusFile), statusFile);
  cache.pgVersion = versionName(await pgMajor);
  const monitor = new ComputeMonitor(new ActivityProbe(o.connstr, o.pgdata), () => cache.currentStatus());
  const extensionStats = new ExtensionStats(o.connstr);
  cache.lastActiveFrom(() => monitor.lastActive());
  cache.replicationFrom(() => monitor.replication());
  cache.onView((view) => extensionStats.observe(view.status, view.mode));
  const metrics = createMetrics(o.buildTag, () => cache.status(o.computeId), {
    downtime: () => ({ currentMs: monitor.currentDowntimeMs, totalMs: monitor.totalDowntimeMs }),
    installedExtensions: () => extensionStats.current,
    temporalUp: () => cache.stale() === null,
  });
  const config = await loadConfig(o, o.computeId, metrics.controlPlaneRequests);
  const auth = await apiAuthentication(o, config?.computeCtlConfig.jwks.keys ?? []);

  let stopped = false;
  let wakeEndWatch = (): void => {};
  const external = await buildExternalServer({
    auth,
    computes: cache,
    computeId: o.computeId,
    connstr: o.connstr,
    pgdata: o.pgdata,
    pgbinDir: path.dirname(o.postgres),
    metrics: metrics.exposition,
    temporalMetrics: () => runtime?.coreMetrics() ?? Promise.resolve(null),
    logLevel: o.logLevel,
    onTerminated: () => wakeEndWatch(),
  });
  const internal = await buildInternalServer({
    computes: cache,
    computeId: o.computeId,
    connstr: o.connstr,
    logLevel: o.logLevel,
    onRefreshRequested: () => metrics.refreshRequests.inc(),
  });
  try {
    await external.listen({ host: o.httpHost, port: o.externalHttpPort });
    await internal.listen({ host: o.httpHost, port: o.internalHttpPort });
    monitor.start();
  } catch (err) {
    await Promise.allSettled([external.close(), internal.close()]);
    throw err;
  }

  const { Client, Connection, ComputeClient, DEFAULT_CLIENT_OPTIONS, dataConverter } = await loadTemporalClient();
  const converter = dataConverter();
  const connection: Connection = Connection.lazy({ address: o.temporalAddress });
  const client: Client = new Client({ connection, namespace: o.temporalNamespace, dataConverter: converter });
  const computes: ComputeClient = new ComputeClient(client, { ...DEFAULT_CLIENT_OPTIONS, ...o.client });
  // Set once this process's Temporal worker runs (in `ready`, below); shut down with the process.
  let temporal: { worker: Worker; nativeConnection: NativeConnection; running: Promise<void> } | null = null;
  const isStopped = () => stopped;
  let lifecycleStarted!: (yes: boolean) => void;
  const endWatch = watchForEnd(computes, o.computeId, isStopped, new Promise((resolve) => (lifecycleStarted = resolve)), cache);
  wakeEndWatch = endWatch.wake;
  const ready = (async () => {
    let searchable: boolean | null = null;
    /** The lifecycle's memo once its run is this process's: what /status shows until the workflow reports. */
    let memo: StatusView | null = null;
    const started = await untilDone(
      `starting the lifecycle workflow of compute ${o.computeId} on Temporal at ${o.temporalAddress}`,
      async () => {
        searchable ??= await searchAttributesChecked(connection, o.temporalNamespace);
        const start = () =>
          computes.ensureStarted(o.computeId, {
            spec: config?.spec ?? null,
            processStartTime,
            basebackupRetries: o.basebackupRetries,
            leaseRoundsPerRun: o.leaseRoundsPerRun,
            historyThreshold: o.historyThreshold,
            searchAttributes: searchable ?? undefined,
          });
        await start();
        // A run at rest whose Postgres is gone: this process replaces the one that ran it (a pod
        // restarted, `docker compose down` and `up`). It starts the compute afresh, as Neon's
        // compute_ctl does in a new pod, instead of inheriting a failure it cannot leave.
        memo = await computes.statusFromMemo(o.computeId);
        const was = memo?.status;
        if ((was === 'running' || was === 'failed') && (await livePostmasterPid(o.pgdata)) === null) {
          log('info', `compute ${o.computeId} was ${was}, but no Postgres runs on ${o.pgdata}: starting a new lifecycle run for this process`);
          await computes.endLifecycleRun(o.computeId, `a new worker process found the compute ${was} with no Postgres running: it starts the compute afresh`);
          await start();
          memo = await computes.statusFromMemo(o.computeId);
        }
        return true;
      },
      isStopped,
      (reason) => cache.temporalUnreachable(reason),
    );
    lifecycleStarted(started === true);
    if (!started) return;
    cache.temporalReachable();
    cache.attach(computes);
    cache.seed(memo);
    const created = await untilDone('starting the Temporal worker', () => startTemporalWorker(o, runAs, converter, cache, metrics), isStopped, () => {});
    if (!created) return;
    if (stopped) {
      await created.nativeConnection.close().catch(() => undefined);
      return;
    }
    const running = created.worker.run();
    running.catch((err) => log('error', `the Temporal worker stopped: ${(err as Error).message}`));
    temporal = { ...created, running };
    // Steps a dead predecessor left running are retried here now, not after their heartbeat timeout.
    void import('./takeover')
      .then(({ endDeadAttempts }) => endDeadAttempts(client, o.computeId, created.identity))
      .catch((err) => log('warn', `could not take over the steps of the previous worker: ${(err as Error).message}`));
  })();

  const shutdown = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    endWatch.wake();
    await endWatch.done;
    await Promise.allSettled([external.close(), internal.close()]);
    await ready.catch(() => undefined);
    const t = temporal;
    if (t) {
      if (t.worker.getState() === 'RUNNING') t.worker.shutdown();
      await t.running.catch(() => undefined);
      await t.nativeConnection.close().catch(() => undefined);
    }
    await connection.close().catch(() => undefined);
    extensionStats.stop();
    await monitor.stop();
    await cache.flushed();
  };

  return { externalUrl: urlOf(external), internalUrl: urlOf(internal), computes, finished: endWatch.finished, ready, shutdown };
}

/** The compute search attributes registered (added when missing); a refusal is logged, not fatal. */
async function searchAttributesChecked(connection: Connection, namespace: string): Promise<boolean> {
  const { ensureSearchAttributes } = await import('../client/search-attributes');
  const report = await ensureSearchAttributes(connection, namespace);
  if (report.added.length > 0) log('info', `registered the search attributes ${report.added.join(', ')} in namespace ${namespace}`);
  if (report.problem) log('warn', `${report.problem}; this compute's workflows will not carry them (run compute-ctl setup-namespace)`);
  return report.registered;
}

/**
 * The termination fan-out of an OS signal (§9): SIGTERM a running sync-safekeepers, SIGINT the
 * postmaster (fast shutdown: clients disconnected, a shutdown checkpoint). No waiting.
 */
export async function fanOutTermination(pgdata: string): Promise<void> {
  const { terminateSyncSafekeepers } = await import('../storage/neon/safekeepers');
  terminateSyncSafekeepers();
  await signalPostmaster(pgdata, 'SIGINT').catch(() => null);
}
