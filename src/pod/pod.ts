// The in-pod process of one compute (`compute-ctl worker`): the HTTP API, answered from the pod's
// view of its compute; the compute monitor; the watch on the postmaster; and an activity-only
// Temporal worker on the compute's own queue, through which the lifecycle workflow (run by the
// orchestrators) carries out every step of the compute here.
import type { PodNeighbours } from '../activities/settings';
import type { TlsFiles } from '../postgres/tls';
import { CertificateWatch } from './certificate-watch';
import { stopNeighbours } from '../activities/neighbours';
import { normalizeBaseUrl, RemoteExtensions } from '../postgres/remote-extensions';
import path from 'node:path';
import type { NativeConnection } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type { ComputeClient, ComputeClientOptions } from '../client';
import { computeIdProblem, taskQueueFor } from '../compute/ids';
import type { TerminateMode } from '../compute/views';
import type { ParsedConfig } from '../compute-spec/parse';
import { loadConfig } from '../compute-config/source';
import { log, setLogContext } from '../log';
import { PRIVILEGED_ROLE_PATTERN } from '../postgres/catalog/plan';
import { resolveRunAs } from '../postgres/os';
import { postgresMajorVersion, versionName } from '../postgres/pgbin';
import { ActivityProbe } from '../postgres/activity-probe';
import { livePostmasterPid, signalPostmaster } from '../postgres/postmaster';
import { ComputeMonitor } from './compute-monitor';
import { ComputeView, initialReport, statusFileFor } from './compute-view';
import { ExtensionStats } from './extension-stats';
import { httpServers, type HttpServers } from './http';
import { createMetrics, type ComputeMetrics } from './metrics';
import { auditLogDirSize } from './audit-log-size';
import { PodOperations } from './operations';
import { PostmasterWatch } from './postmaster-watch';
import { untilDone } from './retry';
import { TemporalLink } from './temporal-link';

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
  /** The orchestrators' shared queue, where the pod starts its compute's lifecycle. */
  orchestratorQueue: string;
  pgUser: string;
  privilegedRoleName: string;
  /** Postgres' neighbours in the pod (pgbouncer, local_proxy, the VM's helpers); Neon's places by default. */
  neighbours?: Partial<PodNeighbours>;
  buildTag: string;
  logLevel: string;
  client?: Partial<ComputeClientOptions>;
  /** Retries of the basebackup step instead of §4.5's 10 (NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES). */
  basebackupRetries?: number;
  /** Lease rounds per lease workflow run before continue-as-new (tests lower it). */
  leaseRoundsPerRun?: number;
  /** History length at which the lifecycle workflow continues-as-new (tests lower it). */
  historyThreshold?: number;
  /** -r: the remote extensions' archive store (§2). */
  remoteExtBaseUrl?: string;
  /** How often compute_ctl_config.tls's certificate is checked for a rotation (§12: 60 s). */
  tlsCheckIntervalMs?: number;
}

export interface RunningWorker {
  externalUrl: string;
  internalUrl: string;
  /** The pod's Temporal client (once it has reached Temporal). */
  readonly computes: ComputeClient;
  /** Resolves when the compute is terminated, with how (the pod serves a while longer, §9). */
  finished: Promise<{ mode: TerminateMode }>;
  /** Resolves when the compute's lifecycle exists and this pod serves its steps. */
  ready: Promise<void>;
  shutdown(): Promise<void>;
}

export function validateWorkerOptions(o: WorkerOptions): void {
  if (o.configPath && o.controlPlaneUri) throw new Error('--config and --control-plane-uri cannot be used together');
  if (o.remoteExtBaseUrl) normalizeBaseUrl(o.remoteExtBaseUrl);
  const idProblem = computeIdProblem(o.computeId, o.orchestratorQueue);
  if (idProblem) throw new Error(idProblem.replace(/^invalid compute id/, 'invalid --compute-id'));
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

/** What the pod knows and observes of its compute, before it has reached Temporal. */
interface PodState {
  view: ComputeView;
  link: TemporalLink;
  ops: PodOperations;
  monitor: ComputeMonitor;
  extensionStats: ExtensionStats;
  metrics: ComputeMetrics;
  remoteExtensions: RemoteExtensions;
}

async function podState(o: WorkerOptions, processStartTime: string): Promise<PodState> {
  // Known before anything listens: an unsupported server refuses the start with a clear error.
  const pgVersion = versionName(await postgresMajorVersion(o.postgres));
  const statusFile = statusFileFor(path.resolve(o.pgdata));
  const link = new TemporalLink(o.temporalAddress);
  let monitor: ComputeMonitor | null = null;
  const view = new ComputeView(
    await initialReport(o.computeId, processStartTime, statusFile),
    {
      lastActive: () => monitor?.lastActive() ?? null,
      replication: () => monitor!.replication(),
      stale: () => link.stale(),
      pgVersion,
    },
    statusFile,
  );
  monitor = new ComputeMonitor(new ActivityProbe(o.connstr, o.pgdata), () => view.current().view.status);
  const extensionStats = new ExtensionStats(o.connstr);
  view.onReport((r) => extensionStats.observe(r.view.status, r.view.mode));
  const mon = monitor;
  const metrics = createMetrics(o.buildTag, async () => view.status(), {
    downtime: () => ({ currentMs: mon.currentDowntimeMs, totalMs: mon.totalDowntimeMs }),
    installedExtensions: () => extensionStats.current,
    temporalUp: () => link.stale() === null,
    auditLogBytes: () => auditLogDirSize(o.pgdata),
  });
  const remoteExtensions = new RemoteExtensions({
    baseUrl: o.remoteExtBaseUrl ? normalizeBaseUrl(o.remoteExtBaseUrl) : null,
    buildTag: o.buildTag,
    postgres: o.postgres,
    onRequest: (filename, status) => metrics.remoteExtRequests.inc({ filename, http_status: String(status) }),
  });
  return { view, link, ops: new PodOperations(o.computeId, view, link), monitor, extensionStats, metrics, remoteExtensions };
}

/** Resolves when the view says the compute is terminated (from any source: the pod's /terminate, the control plane's). */
function terminated(view: ComputeView): Promise<{ mode: TerminateMode }> {
  return new Promise((resolve) => view.onReport((r) => r.view.status === 'terminated' && resolve({ mode: r.terminateMode ?? 'fast' })));
}

/** The Temporal side of the pod, once it runs: shut down with the process. */
interface TemporalParts {
  connection: NativeConnection;
  computes: ComputeClient;
  stopWorker(): Promise<void>;
}

/**
 * Temporal's modules, loaded after the HTTP servers listen: they are most of the boot's require
 * time (the protobuf descriptors alone take ~100 ms of CPU). Loaded a piece at a time, with a turn
 * of the event loop between pieces, so that /status answers during the load.
 */
async function loadTemporal() {
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
  await nextTurn();
  await import('@temporalio/proto');
  await nextTurn();
  await import('@temporalio/common');
  await nextTurn();
  const { Client } = await import('@temporalio/client');
  await nextTurn();
  const { NativeConnection } = await import('@temporalio/worker');
  await nextTurn();
  const [{ ComputeClient, DEFAULT_CLIENT_OPTIONS }, { dataConverter }, runtime, { ensureSearchAttributes }] = await Promise.all([
    import('../client'),
    import('../temporal/payload-codec'),
    import('../temporal/core-runtime'),
    import('../client/search-attributes'),
  ]);
  return { Client, NativeConnection, ComputeClient, DEFAULT_CLIENT_OPTIONS, dataConverter, runtime, ensureSearchAttributes };
}

/** The Temporal Core runtime, once this process installed it (its metrics come from there). */
let coreRuntime: Awaited<ReturnType<typeof loadTemporal>>['runtime'] | null = null;

/**
 * Connects to Temporal (retrying until it answers), starts the activity worker, then starts (or
 * finds) the compute's lifecycle and hands the operations to it. A dead predecessor's attempts are
 * ended, so its steps are retried here at once.
 */
async function connectTemporal(o: WorkerOptions, s: PodState, config: ParsedConfig | null, processStartTime: string, stopped: () => boolean): Promise<TemporalParts | null> {
  const t = await loadTemporal();
  await t.runtime.installRuntime();
  coreRuntime = t.runtime;
  const onFailure = (reason: string) => s.link.unreachable(reason);
  const connection = await untilDone(`connecting to Temporal at ${o.temporalAddress}`, () => t.NativeConnection.connect({ address: o.temporalAddress }), stopped, onFailure);
  if (!connection) return null;
  const converter = t.dataConverter();
  const client = new t.Client({ connection, namespace: o.temporalNamespace, dataConverter: converter });
  const take = (r: Parameters<ComputeView['take']>[0]) => s.view.take(r);
  const computes = new t.ComputeClient(client, { ...t.DEFAULT_CLIENT_OPTIONS, orchestratorQueue: o.orchestratorQueue, ...o.client, onReport: take });
  const { startActivityWorker } = await import('./activity-worker');
  const worker = await untilDone(
    'starting the activity worker',
    () =>
      startActivityWorker(
        connection,
        o.temporalNamespace,
        {
          computeId: o.computeId,
          configSource: { configPath: o.configPath, controlPlaneUri: o.controlPlaneUri, controlPlaneToken: o.controlPlaneToken },
          pgdata: o.pgdata,
          postgres: o.postgres,
          connstr: o.connstr,
          runAs: resolveRunAs(o.pgUser),
          internalHttpPort: o.internalHttpPort,
          privilegedRoleName: o.privilegedRoleName,
          neighbours: o.neighbours,
          tls: tlsOf(config),
        },
        converter,
        { onReport: take, migrationFailures: s.metrics.migrationFailures, controlPlaneRequests: s.metrics.controlPlaneRequests, remoteExtensions: s.remoteExtensions, lfc: s.metrics.lfc },
      ),
    stopped,
    onFailure,
  );
  const stopWorker = async () => {
    if (worker) {
      if (worker.worker.getState() === 'RUNNING') worker.worker.shutdown();
      await worker.running.catch(() => undefined);
    }
  };
  worker?.running.catch((err) => log('error', `the activity worker stopped: ${(err as Error).message}`));
  const parts: TemporalParts = { connection, computes, stopWorker };
  if (!worker) return parts;
  s.link.watchPoller(() => t.runtime.corePollCounts(taskQueueFor(o.computeId)));

  let searchable: boolean | null = null;
  const attached = await untilDone(
    `starting the lifecycle workflow of compute ${o.computeId} on Temporal at ${o.temporalAddress}`,
    async () => {
      searchable ??= await searchAttributesChecked(t.ensureSearchAttributes, connection, o.temporalNamespace);
      await attachLifecycle(o, computes, s.view, config, processStartTime, searchable);
      return true;
    },
    stopped,
    onFailure,
  );
  if (!attached) return parts;
  s.link.attach();
  s.ops.attach(computes);
  // Steps a dead predecessor left running are retried here now, not after their heartbeat timeout.
  void import('./takeover')
    .then(({ endDeadAttempts }) => endDeadAttempts(client, o.computeId, worker.identity))
    .catch((err) => log('warn', `could not take over the steps of the previous pod: ${(err as Error).message}`));
  return parts;
}

/**
 * Starts the compute's lifecycle on the orchestrators' queue, or finds the running one, and reads
 * the view it last published. A lifecycle at rest whose Postgres is gone, or one already terminated
 * (closing once its last report is taken), is ended and a new one started: this pod replaces the
 * one that ran it (a pod restarted, `docker compose down` and `up`) and starts the compute afresh,
 * as Neon's compute_ctl does in a new pod, instead of inheriting a state it cannot leave.
 */
async function attachLifecycle(o: WorkerOptions, computes: ComputeClient, view: ComputeView, config: ParsedConfig | null, processStartTime: string, searchAttributes: boolean): Promise<void> {
  const start = () =>
    computes.ensureStarted(o.computeId, {
      spec: config?.spec ?? null,
      processStartTime,
      basebackupRetries: o.basebackupRetries,
      leaseRoundsPerRun: o.leaseRoundsPerRun,
      historyThreshold: o.historyThreshold,
      searchAttributes,
    });
  await start();
  let read = await computes.podReport(o.computeId);
  const was = read?.view.status;
  // Terminated: the run is only handing its last report over before it closes. At rest with its
  // Postgres gone: this pod replaces the one that ran it.
  const ended = was === 'terminated';
  const orphaned = (was === 'running' || was === 'failed') && (await livePostmasterPid(o.pgdata)) === null;
  if (read && (ended || orphaned)) {
    log('info', `compute ${o.computeId} was ${was}${orphaned ? `, but no Postgres runs on ${o.pgdata}` : ''}: starting a new lifecycle run for this pod`);
    view.leave(read.lifecycle);
    await computes.endLifecycleRun(o.computeId, `a new pod found the compute ${was}${orphaned ? ' with no Postgres running' : ''}: it starts the compute afresh`);
    await start();
    read = await computes.podReport(o.computeId);
  }
  if (read) view.takeAtBoot(read);
}

/** The compute search attributes registered (added when missing); a refusal is logged, not fatal. */
async function searchAttributesChecked(
  ensure: Awaited<ReturnType<typeof loadTemporal>>['ensureSearchAttributes'],
  connection: NativeConnection,
  namespace: string,
): Promise<boolean> {
  const report = await ensure(connection, namespace);
  if (report.added.length > 0) log('info', `registered the search attributes ${report.added.join(', ')} in namespace ${namespace}`);
  if (report.problem) log('warn', `${report.problem}; this compute's workflows will not carry them (run compute-ctl setup-namespace)`);
  return report.registered;
}

/** compute_ctl_config.tls of the startup config: fixed for the pod's life, as Neon's. */
function tlsOf(config: ParsedConfig | null): TlsFiles | null {
  const tls = config?.computeCtlConfig.tls;
  return tls ? { keyPath: tls.key_path, certPath: tls.cert_path } : null;
}

function urlOf(app: FastifyInstance): string {
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') return String(addr);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}

/**
 * Boots the pod. The HTTP servers listen first, answering /status from the view this pod kept (or a
 * new compute's); Temporal is reached afterwards, retried until it answers. Resolves once the pod
 * serves what it promises: its lifecycle reached, or Temporal found away (then /status says so and
 * operations answer 503 until it is back).
 */
export async function runComputeWorker(o: WorkerOptions): Promise<RunningWorker> {
  validateWorkerOptions(o);
  setLogContext({ compute_id: o.computeId });
  const processStartTime = new Date().toISOString();
  const s = await podState(o, processStartTime);
  const config = await loadConfig(o, o.computeId, s.metrics.controlPlaneRequests);
  let http: HttpServers;
  try {
    http = await httpServers(o, s.ops, s.metrics, config, () => coreRuntime?.coreMetrics() ?? Promise.resolve(null), s.remoteExtensions);
  } catch (err) {
    await s.monitor.stop();
    throw err;
  }
  s.monitor.start();
  const watch = new PostmasterWatch(o.pgdata, (exit) => s.ops.reportPostgresExit(exit));
  await watch.start();
  const finished = terminated(s.view);
  const tls = tlsOf(config);
  const certificates = tls ? new CertificateWatch(tls.certPath, o.tlsCheckIntervalMs ?? 60_000, () => s.ops.certificateChanged()) : null;
  await certificates?.start();

  let stopped = false;
  let parts: TemporalParts | null = null;
  const temporal = connectTemporal(o, s, config, processStartTime, () => stopped).then((p) => (parts = p));
  const ready = temporal.then(() => {
    if (!parts || !s.ops.isAttached()) throw new Error('the pod stopped before it reached its lifecycle');
  });
  ready.catch(() => undefined);
  // Serving what it promises: the lifecycle reached, or Temporal known to be away for now.
  await Promise.race([ready, s.link.firstTrouble, temporal]);

  const shutdown = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    watch.stop();
    certificates?.stop();
    await http.close();
    await temporal.catch(() => null);
    const t = parts as TemporalParts | null;
    if (t) {
      await t.stopWorker();
      await t.connection.close().catch(() => undefined);
    }
    s.extensionStats.stop();
    await s.monitor.stop();
    await s.view.flushed();
  };

  return {
    externalUrl: urlOf(http.external),
    internalUrl: urlOf(http.internal),
    get computes(): ComputeClient {
      const t = parts as TemporalParts | null;
      if (!t) throw new Error(`the pod of compute ${o.computeId} has not reached Temporal`);
      return t.computes;
    },
    finished,
    ready,
    shutdown,
  };
}

/**
 * The termination fan-out of an OS signal (§9): SIGTERM a running sync-safekeepers, SIGKILL
 * pgbouncer and SIGTERM local_proxy (unless --dev: `neighbours` null), SIGINT the postmaster (fast
 * shutdown: clients disconnected, a shutdown checkpoint). No waiting.
 */
export async function fanOutTermination(pgdata: string, neighbours: PodNeighbours | null): Promise<void> {
  const { terminateSyncSafekeepers } = await import('../storage/neon/safekeepers');
  terminateSyncSafekeepers();
  // Unless --dev: SIGKILL to pgbouncer, SIGTERM to local_proxy.
  if (neighbours) await stopNeighbours(neighbours).catch(() => null);
  await signalPostmaster(pgdata, 'SIGINT').catch(() => null);
}

