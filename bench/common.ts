// What the benchmarks share: the real parts on loopback, statistics, and the one machine-readable
// line each benchmark prints: `BENCH <name> key=value …` (numbers: milliseconds, MB, ratios).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../src/dev/ports';
import { startTemporalServer } from '../src/dev/temporal-server';
import { startTemporalCluster, type TemporalCluster } from '../src/dev/temporal-cluster';
import { startUpstream, type Upstream } from '../src/dev/upstream';
import { chown, resolveRunAs, type RunAs } from '../src/postgres/os';
import { findPostgres } from '../src/postgres/pgbin';
import { stopPostmaster } from '../src/postgres/postmaster';
import { DEFAULT_ORCHESTRATOR_OPTIONS, runOrchestrator } from '../src/orchestrator';

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Prints `BENCH <name> k=v …`: one line a script can read. */
export function benchLine(name: string, values: Record<string, number>): void {
  const fields = Object.entries(values).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(Math.abs(v) < 10 ? 2 : 1)}`);
  console.log(`BENCH ${name} ${fields.join(' ')}`);
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
}

export interface BenchStack {
  temporal: { address: string; stop(): Promise<void> };
  /** The real cluster behind `temporal`, when the bench runs on one. */
  cluster: TemporalCluster | null;
  /** The orchestrators' processes (their pids), when they run as processes. */
  orchestratorPids: number[];
  upstream: Upstream;
  postgres: string;
  runAs: RunAs | null;
  tmp: string;
  /** A small compute's ConfigurationRequest (1 role, 1 database) on `pgPort`, copied from the upstream. */
  request(pgPort: number): unknown;
  stopPostgres(pgdata: string): Promise<void>;
  stop(): Promise<void>;
}

export function smallRequest(upstream: string, pgPort: number) {
  return {
    compute_ctl_config: { jwks: { keys: [] } },
    spec: {
      format_version: 1,
      suspend_timeout_seconds: -1,
      storage: { type: 'postgres', connstring: upstream },
      cluster: {
        roles: [{ name: 'neondb_owner', encrypted_password: null, options: null }],
        databases: [{ name: 'neondb', owner: 'neondb_owner', options: null }],
        postgresql_conf: `listen_addresses='127.0.0.1'\nport=${pgPort}\nunix_socket_directories=''\nfsync=off\nshared_buffers=16MB\n`,
      },
    },
  };
}

export async function benchTempDir(runAs: RunAs | null, name: string): Promise<string> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), `compute-ctl-bench-${name}-`));
  await chmod(tmp, 0o755);
  await chown(tmp, runAs);
  return tmp;
}

export interface BenchStackOptions {
  /** A real Temporal cluster (temporal-server, PostgreSQL persistence) instead of the dev server. */
  cluster?: boolean;
  /** Orchestrators as `compute-ctl orchestrator` processes (default: one in this process). */
  orchestratorProcesses?: number;
}

/** `compute-ctl orchestrator` in its own process, once its /healthz answers. */
async function orchestratorProcess(address: string): Promise<ChildProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [BIN, 'orchestrator', '--http-port', String(port)], { env: { ...process.env, TEMPORAL_ADDRESS: address }, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('the orchestrator did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
  return proc;
}

/** Temporal (the dev server, or a real cluster), its orchestrators, and an upstream PostgreSQL, on free loopback ports. */
export async function startBenchStack(opts: BenchStackOptions = {}): Promise<BenchStack> {
  const postgres = findPostgres();
  const runAs = resolveRunAs('postgres');
  const tmp = await benchTempDir(runAs, 'stack');
  let cluster: TemporalCluster | null = null;
  let temporal: BenchStack['temporal'];
  if (opts.cluster) {
    const dir = path.join(tmp, 'temporal-cluster');
    await mkdir(dir);
    await chown(dir, runAs);
    cluster = await startTemporalCluster({ dir, postgres, runAs });
    temporal = { address: cluster.address, stop: () => cluster!.stop() };
  } else temporal = await startTemporalServer({ port: await freePort() });
  const upstream = await startUpstream({ pgdata: path.join(tmp, 'upstream'), port: await freePort(), postgres, runAs });
  const processes = await Promise.all(Array.from({ length: opts.orchestratorProcesses ?? 0 }, () => orchestratorProcess(temporal.address)));
  const orchestrator = processes.length === 0 ? await runOrchestrator({ ...DEFAULT_ORCHESTRATOR_OPTIONS, temporalAddress: temporal.address, temporalNamespace: 'default' }) : null;
  return {
    temporal,
    cluster,
    orchestratorPids: processes.map((p) => p.pid!),
    upstream,
    postgres,
    runAs,
    tmp,
    request: (pgPort) => smallRequest(upstream.connstring, pgPort),
    stopPostgres: async (pgdata) => {
      await stopPostmaster(pgdata, 'SIGQUIT').catch(() => undefined);
    },
    async stop() {
      await orchestrator?.shutdown();
      for (const p of processes) p.kill('SIGKILL');
      await Promise.allSettled([temporal.stop(), upstream.stop()]);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

export const BIN = path.join(__dirname, '../../bin/compute-ctl.js');

/** A process's resident memory (MB). */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

export interface BenchWorker {
  pid: number;
  api: string;
  /** Sent with every request to the worker's API (a JWT when it has keys). */
  headers: Record<string, string>;
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

export interface BenchSlot {
  computeId: string;
  pgdata: string;
  pgPort: number;
  ext: number;
  int: number;
}

export async function benchSlot(stack: BenchStack, name: string): Promise<BenchSlot> {
  const computeId = `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  return { computeId, pgdata: path.join(stack.tmp, `${computeId}-pgdata`), pgPort: await freePort(), ext: await freePort(), int: await freePort() };
}

/** `compute-ctl worker` as a pod runs it, in its own process. */
export function spawnBenchWorker(
  stack: BenchStack,
  slot: BenchSlot,
  env: Record<string, string> = {},
  auth?: { configPath: string; token: string },
): BenchWorker {
  const proc = spawn(process.execPath, [
    BIN, 'worker', '-i', slot.computeId, '-D', slot.pgdata, '-C', `postgresql://cloud_admin@127.0.0.1:${slot.pgPort}/postgres`, '-b', stack.postgres,
    '--external-http-port', String(slot.ext), '--internal-http-port', String(slot.int), '--log-level', 'error',
    ...(auth ? ['-c', auth.configPath] : []),
  ], { env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${auth.token}` } : {};
  return { pid: proc.pid!, api: `http://127.0.0.1:${slot.ext}`, headers, exited, kill: (signal = 'SIGKILL') => proc.kill(signal) };
}

/** Polls /status until it answers 200 (and `until` accepts the body); returns the ms since `t0`. */
export async function waitForStatus(w: BenchWorker, t0: number, until: (body: { status: string }) => boolean = () => true, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${w.api}/status`, { headers: w.headers }).catch(() => null);
    if (res?.ok && until((await res.json()) as { status: string })) return performance.now() - t0;
    if (Date.now() > deadline) throw new Error('timed out waiting for /status');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function configure(w: BenchWorker, body: unknown): Promise<void> {
  const res = await fetch(`${w.api}/configure`, { method: 'POST', headers: { ...w.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`configure failed: ${res.status} ${await res.text()}`);
}
