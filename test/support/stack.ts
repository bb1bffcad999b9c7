// The real parts an integration test needs, each started on loopback on free ports and stopped
// again: a Temporal dev server, an orchestrator serving the lifecycle workflows, an upstream
// PostgreSQL, and compute pods (in-process).
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { chown, resolveRunAs, type RunAs } from '../../src/postgres/os';
import { freePort } from '../../src/dev/ports';
import { startTemporalServer } from '../../src/dev/temporal-server';
import { startTemporalCluster, type TemporalCluster } from '../../src/dev/temporal-cluster';
import { startUpstream, type Upstream } from '../../src/dev/upstream';
import { findPostgres } from '../../src/postgres/pgbin';
import { installRuntime } from '../../src/temporal/core-runtime';
import { runComputeWorker, type RunningWorker } from '../../src/pod/pod';
import { DEFAULT_ORCHESTRATOR_OPTIONS, runOrchestrator, type RunningOrchestrator } from '../../src/orchestrator';
import { DEFAULT_ORCHESTRATOR_QUEUE } from '../../src/compute/ids';
import type { StatusView } from '../../src/compute/views';
import { recordHistories } from './histories';

/** A Temporal to talk to: the dev server, or (cluster tests) a real cluster's frontend. */
export interface StackTemporal {
  address: string;
  stop(): Promise<void>;
}

export interface Stack {
  temporal: StackTemporal;
  /** The real cluster behind `temporal`, when the stack runs one (its services can be killed). */
  cluster: TemporalCluster | null;
  /** The Temporal server's SQLite file, when it has one (restart tests). */
  temporalDbFile: string | null;
  upstream: Upstream;
  postgres: string;
  runAs: RunAs | null;
  bundle: WorkflowBundleWithSourceMap;
  /** The orchestrators serving the lifecycle workflows (one unless a test adds more). */
  orchestrators: RunningOrchestrator[];
  /** Starts one more orchestrator on the stack's Temporal (in this process). */
  addOrchestrator(): Promise<RunningOrchestrator>;
  tmp: string;
  stop(): Promise<void>;
}

/** An orchestrator in this process on `address`, serving the bundle's workflows. */
export function startOrchestrator(address: string, bundle: WorkflowBundleWithSourceMap, payloadKey?: string): Promise<RunningOrchestrator> {
  return runOrchestrator({ ...DEFAULT_ORCHESTRATOR_OPTIONS, temporalAddress: address, temporalNamespace: 'default', workflowBundle: bundle, payloadKey });
}

export async function makeTempDir(prefix: string, runAs: RunAs | null): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o755);
  await chown(dir, runAs);
  return dir;
}

export interface StackOptions {
  temporalDbFile?: boolean;
  /** The pods' payload key, for the orchestrators. */
  payloadKey?: string;
  /** A real Temporal cluster (temporal-server with PostgreSQL persistence) instead of the dev server. */
  cluster?: boolean;
  /** Orchestrators in this process (default 1; a test that kills them spawns its own). */
  orchestrators?: number;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  await installRuntime('ERROR');
  const postgres = findPostgres();
  const runAs = resolveRunAs('postgres');
  const tmp = await makeTempDir('compute-ctl-test-', runAs);
  const temporalDbFile = opts.temporalDbFile ? path.join(tmp, 'temporal.db') : null;
  let cluster: TemporalCluster | null = null;
  const startTemporal = async (): Promise<StackTemporal> => {
    if (!opts.cluster) return startTemporalServer({ port: await freePort(), dbFilename: temporalDbFile ?? undefined });
    const dir = path.join(tmp, 'temporal-cluster');
    await mkdir(dir);
    await chown(dir, runAs);
    cluster = await startTemporalCluster({ dir, postgres, runAs });
    return { address: cluster.address, stop: () => cluster!.stop() };
  };
  const [temporal, upstream, bundle] = await Promise.all([
    startTemporal(),
    freePort().then((port) => startUpstream({ pgdata: path.join(tmp, 'upstream'), port, postgres, runAs })),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger }),
  ]);
  const orchestrators: RunningOrchestrator[] = [];
  for (let i = 0; i < (opts.orchestrators ?? 1); i++) orchestrators.push(await startOrchestrator(temporal.address, bundle, opts.payloadKey));
  const stack: Stack = {
    temporal,
    cluster,
    temporalDbFile,
    upstream,
    postgres,
    runAs,
    bundle,
    orchestrators,
    async addOrchestrator() {
      const o = await startOrchestrator(stack.temporal.address, bundle, opts.payloadKey);
      stack.orchestrators.push(o);
      return o;
    },
    tmp,
    async stop() {
      await Promise.allSettled(stack.orchestrators.map((o) => o.shutdown()));
      // stack.temporal, not the first server: a test may have restarted it.
      await Promise.allSettled([stack.temporal.stop(), upstream.stop()]);
      await rm(tmp, { recursive: true, force: true });
    },
  };
  return stack;
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (m: string) => console.error(m),
};

export interface ComputeUnderTest {
  stack: Stack;
  computeId: string;
  worker: RunningWorker;
  pgPort: number;
  pgdata: string;
  /** Superuser connection string of the compute's Postgres. */
  connstr: string;
  api(pathname: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

let computeCounter = 0;

export interface ComputeOptions {
  configPath?: string;
  computeId?: string;
  /** The compute Postgres' port (a config file written beforehand names it). */
  pgPort?: number;
  /** PGDATA (default: under the stack's directory, named after the compute). */
  pgdata?: string;
  /** The postgres binary (default: the real one; Neon tests pass the stand-in). */
  postgres?: string;
  basebackupRetries?: number;
  leaseRoundsPerRun?: number;
  historyThreshold?: number;
}

export async function startCompute(stack: Stack, opts: ComputeOptions = {}): Promise<ComputeUnderTest> {
  const computeId = opts.computeId ?? `c${process.pid}-${++computeCounter}`;
  const [pgPort, ext, int] = await Promise.all([opts.pgPort ?? freePort(), freePort(), freePort()]);
  const pgdata = opts.pgdata ?? path.join(stack.tmp, `${computeId}-pgdata`);
  const connstr = `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`;
  const worker = await runComputeWorker({
    computeId,
    pgdata,
    connstr,
    postgres: opts.postgres ?? stack.postgres,
    configPath: opts.configPath,
    basebackupRetries: opts.basebackupRetries,
    leaseRoundsPerRun: opts.leaseRoundsPerRun,
    historyThreshold: opts.historyThreshold,
    externalHttpPort: ext,
    internalHttpPort: int,
    httpHost: '127.0.0.1',
    temporalAddress: stack.temporal.address,
    temporalNamespace: 'default',
    orchestratorQueue: DEFAULT_ORCHESTRATOR_QUEUE,
    pgUser: 'postgres',
    privilegedRoleName: 'neon_superuser',
    buildTag: 'test',
    logLevel: 'warn',
  });
  // As a pod's control plane would have it: the lifecycle workflow started and this pod polling.
  await worker.ready;
  return {
    stack,
    computeId,
    worker,
    pgPort,
    pgdata,
    connstr,
    api: (pathname, init) => fetch(`${worker.externalUrl}${pathname}`, init),
    async stop() {
      // Whatever state the test left it in, no Postgres may outlive it.
      const { stopPostmaster } = await import('../../src/postgres/postmaster');
      await stopPostmaster(pgdata, 'SIGQUIT').catch(() => undefined);
      await worker.shutdown();
    },
  };
}

/** A ConfigurationRequest for a compute on `pgPort`, copied from the stack's upstream. */
export function configurationRequest(
  stack: Stack,
  pgPort: number,
  cluster: Partial<{ roles: unknown[]; databases: unknown[]; settings: unknown[] }> = {},
  extra: Record<string, unknown> = {},
) {
  return {
    compute_ctl_config: { jwks: { keys: [] } },
    spec: {
      format_version: 1.0,
      suspend_timeout_seconds: -1,
      storage: { type: 'postgres', connstring: stack.upstream.connstring },
      cluster: {
        roles: cluster.roles ?? [],
        databases: cluster.databases ?? [],
        postgresql_conf: `listen_addresses='127.0.0.1'\nport=${pgPort}\nunix_socket_directories=''\nfsync=off\nshared_buffers=16MB\n`,
        settings: cluster.settings ?? [],
      },
      ...extra,
    },
  };
}

/** The rows of one statement on a connection of its own. */
export async function queryRows<T>(connstr: string, sql: string): Promise<T[]> {
  const { Client } = await import('pg');
  const c = new Client({ connectionString: connstr });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

export function postJson(body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** A response body as loosely typed JSON, for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(res: Response): Promise<any> {
  return res.json();
}

/**
 * A describe() block's stack and one compute, started before its tests and stopped after them.
 * `record` names the histories to keep (see histories.ts): suffixes of the lifecycle workflow ID.
 */
export function useCompute(record?: { name: string; children: string[] }): { stack: Stack; compute: ComputeUnderTest } {
  const ctx = {} as { stack: Stack; compute: ComputeUnderTest };
  before(async () => {
    ctx.stack = await startStack();
    ctx.compute = await startCompute(ctx.stack);
  });
  after(async () => {
    if (record && ctx.compute) {
      const id = `compute-${ctx.compute.computeId}`;
      await recordHistories(ctx.compute.worker.computes.client, record.name, [id, ...record.children.map((c) => `${id}-${c}`)]);
    }
    await ctx.compute?.stop();
    await ctx.stack?.stop();
  });
  return ctx;
}

/**
 * /status answers from the worker's memory; what a Temporal client's query answers must be the
 * same, but for what only the pod observes: `last_active` (the query answers null), a Replica's
 * `replication` and the `stale` mark. Returns the /status body.
 */
export async function assertStatusAgrees(c: ComputeUnderTest): Promise<StatusView> {
  const [fromApi, fromQuery] = await Promise.all([c.api('/status').then((r) => r.json() as Promise<StatusView>), c.worker.computes.status(c.computeId)]);
  assert.equal(fromQuery.last_active, null);
  const { replication: _replication, stale: _stale, pg_version: _version, ...rest } = fromApi;
  assert.deepEqual({ ...rest, last_active: null }, fromQuery);
  return fromApi;
}

/**
 * Polls `fn` until it returns something other than undefined. Errors count as not yet, except one
 * marked `final` (e.g. the compute failed while the test waits for running): that one is thrown.
 */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch((err: unknown) => {
      if ((err as { final?: boolean } | null)?.final) throw err;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
