// What the benchmarks share: the real parts on loopback, statistics, and the one machine-readable
// line each benchmark prints: `BENCH <name> key=value …` (numbers: milliseconds, MB, ratios).
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort } from '../src/dev/ports';
import { startTemporalServer, type TemporalServer } from '../src/dev/temporal-server';
import { startUpstream, type Upstream } from '../src/dev/upstream';
import { chown, resolveRunAs, type RunAs } from '../src/postgres/os';
import { findPostgres } from '../src/postgres/pgbin';
import { stopPostmaster } from '../src/postgres/postmaster';
import { DEFAULT_ORCHESTRATOR_OPTIONS, runOrchestrator, type RunningOrchestrator } from '../src/orchestrator';

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
  temporal: TemporalServer;
  /** Serves the lifecycle workflows (in this process). */
  orchestrator: RunningOrchestrator;
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

/** A Temporal dev server and an upstream PostgreSQL, on free loopback ports. */
export async function startBenchStack(): Promise<BenchStack> {
  const postgres = findPostgres();
  const runAs = resolveRunAs('postgres');
  const tmp = await benchTempDir(runAs, 'stack');
  const temporal = await startTemporalServer({ port: await freePort() });
  const upstream = await startUpstream({ pgdata: path.join(tmp, 'upstream'), port: await freePort(), postgres, runAs });
  const orchestrator = await runOrchestrator({ ...DEFAULT_ORCHESTRATOR_OPTIONS, temporalAddress: temporal.address, temporalNamespace: 'default' });
  return {
    temporal,
    orchestrator,
    upstream,
    postgres,
    runAs,
    tmp,
    request: (pgPort) => smallRequest(upstream.connstring, pgPort),
    stopPostgres: async (pgdata) => {
      await stopPostmaster(pgdata, 'SIGQUIT').catch(() => undefined);
    },
    async stop() {
      await orchestrator.shutdown();
      await Promise.allSettled([temporal.stop(), upstream.stop()]);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

export const BIN = path.join(__dirname, '../../bin/compute-ctl.js');

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
