// A compute worker as a pod runs it: the package's bin in a child process, which a test can kill.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before } from 'node:test';
import { freePort } from '../../src/dev/ports';
import { stopPostmaster } from '../../src/postgres/postmaster';
import { startStack, type Stack, type StackOptions } from './stack';

export const BIN = path.join(__dirname, '../../../bin/compute-ctl.js');

export interface WorkerProcess {
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  api(pathname: string, init?: RequestInit): Promise<Response>;
  /** What the worker has written to stderr so far (also forwarded to the test's stderr). */
  log(): string;
}

export interface ComputeSlot {
  computeId: string;
  pgdata: string;
  pgPort: number;
  connstr: string;
  ext: number;
  int: number;
}

/** Ports and paths of one compute, kept across worker restarts. */
export async function computeSlot(stack: Stack, computeId: string): Promise<ComputeSlot> {
  const [pgPort, ext, int] = [await freePort(), await freePort(), await freePort()];
  return { computeId, pgdata: path.join(stack.tmp, `${computeId}-pgdata`), pgPort, connstr: `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`, ext, int };
}

export function spawnWorker(
  stack: Stack,
  slot: ComputeSlot,
  opts: { env?: Record<string, string>; args?: string[]; /** no -b: the worker finds postgres itself */ findPostgres?: boolean } = {},
): WorkerProcess {
  const proc = spawn(
    process.execPath,
    [
      BIN, 'worker', '-i', slot.computeId, '-D', slot.pgdata, '-C', slot.connstr, ...(opts.findPostgres ? [] : ['-b', stack.postgres]),
      '--external-http-port', String(slot.ext), '--internal-http-port', String(slot.int), '--log-level', 'warn',
      ...(opts.args ?? []),
    ],
    { env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    process.stderr.write(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, exited, api: (pathname, init) => fetch(`http://127.0.0.1:${slot.ext}${pathname}`, init), log: () => log };
}

/**
 * A stack for a test file and the worker processes its tests spawn on it: after the file, every
 * worker still running is killed and every compute's Postgres stopped, whatever the tests left.
 */
/** `compute-ctl orchestrator` in its own process, with /healthz on `port`, which a test can kill. */
export interface OrchestratorProcess {
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url: string;
  log(): string;
}

export function spawnOrchestrator(stack: Stack, port: number, env: Record<string, string> = {}): OrchestratorProcess {
  const proc = spawn(process.execPath, [BIN, 'orchestrator', '--http-port', String(port)], {
    env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    process.stderr.write(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return { proc, exited, url: `http://127.0.0.1:${port}`, log: () => log };
}

export function useWorkerProcesses(opts: StackOptions = {}) {
  let stack: Stack | undefined;
  const workers: WorkerProcess[] = [];
  const orchestrators: OrchestratorProcess[] = [];
  const slots: ComputeSlot[] = [];
  before(async () => {
    stack = await startStack(opts);
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    for (const o of orchestrators) if (o.proc.exitCode === null) o.proc.kill('SIGKILL');
    await Promise.all(slots.map((s) => stopPostmaster(s.pgdata, 'SIGQUIT').catch(() => undefined)));
    await stack?.stop();
  });
  return {
    get stack(): Stack {
      return stack!;
    },
    async slot(computeId: string): Promise<ComputeSlot> {
      const slot = await computeSlot(stack!, computeId);
      slots.push(slot);
      return slot;
    },
    spawn(slot: ComputeSlot, o: Parameters<typeof spawnWorker>[2] = {}): WorkerProcess {
      const w = spawnWorker(stack!, slot, o);
      workers.push(w);
      return w;
    },
    async orchestrator(env: Record<string, string> = {}): Promise<OrchestratorProcess> {
      const o = spawnOrchestrator(stack!, await freePort(), env);
      orchestrators.push(o);
      return o;
    },
  };
}
