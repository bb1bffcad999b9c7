// A real Temporal cluster on this machine, for the tests and the fleet bench where a cluster is the
// point: temporal-server v1.29.1 (the server the CLI's dev server embeds) with PostgreSQL
// persistence and visibility, its frontend, history, matching and worker services each in its own
// process (so that one can be killed), the schema made by temporal-sql-tool from the module's
// schema/postgresql/v12, and the fleet's task queue settings of deploy/temporal/dynamicconfig.yaml. The binaries
// and the schema are put in .tools/ by `npm run setup` (built from the Go module proxy).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import type { RunAs } from '../postgres/os';
import { runProgram, tail } from '../postgres/os';
import { freePort, portIsFree } from './ports';
import { REPO_ROOT } from './temporal-server';
import { startUpstream, type Upstream } from './upstream';

export const CLUSTER_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

const TOOLS = path.join(REPO_ROOT, '.tools');

export function temporalServerPaths(): { server: string; sqlTool: string; schema: string } {
  const p = {
    server: process.env.TEMPORAL_SERVER ?? path.join(TOOLS, 'bin', 'temporal-server'),
    sqlTool: process.env.TEMPORAL_SQL_TOOL ?? path.join(TOOLS, 'bin', 'temporal-sql-tool'),
    schema: process.env.TEMPORAL_SCHEMA_DIR ?? path.join(TOOLS, 'temporal-schema', 'postgresql', 'v12'),
  };
  for (const [what, file] of Object.entries(p)) {
    if (!existsSync(file)) throw new Error(`the Temporal server's ${what} is not at ${file}; run npm run setup`);
  }
  return p;
}

export interface ClusterOptions {
  /** A directory of its own: the persistence cluster, the config, the services' logs. */
  dir: string;
  /** The postgres binary of the PostgreSQL that holds Temporal's persistence and visibility. */
  postgres: string;
  runAs: RunAs | null;
  numHistoryShards?: number;
}

export interface TemporalCluster {
  /** The frontend's gRPC address. */
  address: string;
  /** Each service's Prometheus metrics. */
  metricsUrl: Record<ClusterService, string>;
  /** Each service's Go pprof endpoint (`/debug/pprof/…`: the bench reads live heap after a GC). */
  pprofUrl: Record<ClusterService, string>;
  pid(service: ClusterService): number | null;
  /** The frontend's request counters of the `default` namespace, by operation (what clients cost it). */
  frontendRequests(): Promise<Map<string, number>>;
  /** kill -9 of one service's process. */
  kill(service: ClusterService): Promise<void>;
  /** Starts a service again (after kill). */
  restart(service: ClusterService): Promise<void>;
  stop(): Promise<void>;
}

interface Ports {
  pg: number;
  grpc: Record<ClusterService, number>;
  membership: Record<ClusterService, number>;
  metrics: Record<ClusterService, number>;
  pprof: Record<ClusterService, number>;
  http: number;
}

function config(o: ClusterOptions, ports: Ports): string {
  const store = (db: string, conns: number) => `      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: 127.0.0.1:${ports.pg}
        connectProtocol: tcp
        user: cloud_admin
        password: ""
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const service = (s: ClusterService) => `  ${s}:
    rpc:
      grpcPort: ${ports.grpc[s]}
      membershipPort: ${ports.membership[s]}
      bindOnLocalHost: true${s === 'frontend' ? `\n      httpPort: ${ports.http}` : ''}`;
  return `# Written by compute-ctl (src/dev/temporal-cluster.ts); each service's metrics port is in its zone file.
log:
  stdout: true
  level: error
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${o.numHistoryShards ?? 4}
  datastores:
    default:
${store('temporal', 10)}
    visibility:
${store('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
${CLUSTER_SERVICES.map(service).join('\n')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.grpc.frontend}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${FLEET_DYNAMIC_CONFIG}
  pollInterval: 10s
`;
}

/** The fleet's queue settings (docs/fleet.md), as deployed: deploy/temporal/dynamicconfig.yaml. */
export const FLEET_DYNAMIC_CONFIG = path.join(REPO_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');

async function sqlTool(sqlToolBin: string, pgPort: number, db: string, args: string[]): Promise<void> {
  const r = await runProgram(sqlToolBin, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(pgPort), '-u', 'cloud_admin', '--db', db, ...args], { runAs: null });
  if (r.code !== 0) throw new Error(`temporal-sql-tool ${args[0]} (${db}) failed: ${tail(r.stderr || r.stdout)}`);
}

/**
 * Whether the frontend serves the `default` namespace; a frontend that answers without it gets it
 * registered (as the dev server and auto-setup do), once.
 */
async function frontendAnswers(address: string, registered: { done: boolean }): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: 1000 }).catch(() => null);
  if (!conn) return false;
  try {
    await conn.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 5 && !registered.done) {
      await conn.workflowService.registerNamespace({ namespace: 'default', workflowExecutionRetentionPeriod: msToTs('1 day') });
      registered.done = true;
    }
    return false;
  } finally {
    await conn.close();
  }
}

export async function startTemporalCluster(o: ClusterOptions): Promise<TemporalCluster> {
  const bins = temporalServerPaths();
  const svcPorts = async () => Object.fromEntries(await Promise.all(CLUSTER_SERVICES.map(async (s) => [s, await freePort()]))) as Record<ClusterService, number>;
  const ports: Ports = { pg: await freePort(), grpc: await svcPorts(), membership: await svcPorts(), metrics: await svcPorts(), pprof: await svcPorts(), http: await freePort() };
  const confDir = path.join(o.dir, 'config');
  await mkdir(confDir, { recursive: true });
  await mkdir(path.join(o.dir, 'log'), { recursive: true });

  const pg: Upstream = await startUpstream({ pgdata: path.join(o.dir, 'persistence'), port: ports.pg, postgres: o.postgres, runAs: o.runAs, logToFiles: true });
  const children = new Map<ClusterService, ChildProcess>();
  const stopAll = async () => {
    await Promise.all([...children.values()].map((c) => stopChild(c)));
    await pg.stop();
  };
  try {
    for (const [db, dir] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
      await sqlTool(bins.sqlTool, ports.pg, db, ['create-database']);
      await sqlTool(bins.sqlTool, ports.pg, db, ['setup-schema', '-v', '0.0']);
      await sqlTool(bins.sqlTool, ports.pg, db, ['update-schema', '-d', path.join(bins.schema, dir, 'versioned')]);
    }
    await writeFile(path.join(confDir, 'compute-ctl.yaml'), config(o, ports));
    for (const s of CLUSTER_SERVICES) {
      await writeFile(
        path.join(confDir, `compute-ctl_${s}.yaml`),
        `global:\n  pprof:\n    port: ${ports.pprof[s]}\n  metrics:\n    prometheus:\n      framework: tally\n      timerType: histogram\n      listenAddress: 127.0.0.1:${ports.metrics[s]}\n`,
      );
    }

    const startService = async (s: ClusterService) => {
      const log = openSync(path.join(o.dir, 'log', `${s}.log`), 'a');
      const child = spawn(bins.server, ['--root', confDir, '--config', '.', '--env', 'compute-ctl', '--zone', s, '--allow-no-auth', 'start', '--service', s], {
        stdio: ['ignore', log, log],
        detached: true,
      });
      closeSync(log);
      children.set(s, child);
    };
    const address = `127.0.0.1:${ports.grpc.frontend}`;
    // The first service to start writes the cluster's metadata; several at once race on it.
    await startService('frontend');
    const deadline = Date.now() + 120_000;
    while (!(await portIsFree(ports.grpc.frontend).then((free) => !free))) {
      if (children.get('frontend')!.exitCode !== null) throw new Error(`the Temporal frontend service exited during start-up (its log: ${path.join(o.dir, 'log', 'frontend.log')})`);
      if (Date.now() > deadline) throw new Error(`the Temporal frontend did not listen on ${address} within 120 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const s of CLUSTER_SERVICES.filter((x) => x !== 'frontend')) await startService(s);
    const registered = { done: false };
    while (!(await frontendAnswers(address, registered).catch(() => false))) {
      const dead = [...children.entries()].find(([, c]) => c.exitCode !== null);
      if (dead) throw new Error(`the Temporal ${dead[0]} service exited during start-up (its log: ${path.join(o.dir, 'log', `${dead[0]}.log`)})`);
      if (Date.now() > deadline) throw new Error(`the Temporal cluster did not answer on ${address} within 120 s (logs in ${path.join(o.dir, 'log')})`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const kill = async (s: ClusterService) => {
      const c = children.get(s);
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    };
    const metricsUrl = Object.fromEntries(CLUSTER_SERVICES.map((s) => [s, `http://127.0.0.1:${ports.metrics[s]}/metrics`])) as Record<ClusterService, string>;
    return {
      address,
      metricsUrl,
      pprofUrl: Object.fromEntries(CLUSTER_SERVICES.map((s) => [s, `http://127.0.0.1:${ports.pprof[s]}/debug/pprof`])) as Record<ClusterService, string>,
      pid: (s) => children.get(s)?.pid ?? null,
      async frontendRequests() {
        const text = await (await fetch(metricsUrl.frontend)).text();
        const counts = new Map<string, number>();
        for (const m of text.matchAll(/^service_requests\{namespace="default",operation="([A-Za-z]+)",service_name="frontend"\} (\d+)$/gm)) counts.set(m[1], Number(m[2]));
        return counts;
      },
      kill,
      async restart(s) {
        await kill(s);
        await startService(s);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}
