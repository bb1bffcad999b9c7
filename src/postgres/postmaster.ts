// The postmaster as a child process of the pod (reference §4.7): spawned directly as
// `postgres -D <pgdata>`, ready when the last line of postmaster.pid is `ready` (or `standby` for a
// hot standby), watched until it exits, stopped with a signal. A postmaster found on PGDATA that we
// did not spawn (left by a dead pod) is found through postmaster.pid, so it is never doubled.
import { spawn } from 'node:child_process';
import { promises as fs, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { PostmasterExit } from '../compute/views';
import { postgresExitMessage } from '../compute/texts';
import { PgLogForwarder } from './pg-log';
import { isAlive, spawnOptions, type RunAs } from './os';

export type { PostmasterExit };

interface Spawned {
  pid: number;
  exited: Promise<PostmasterExit>;
  exit: PostmasterExit | null;
  log: PgLogForwarder;
}

/** Postmasters this process spawned, by PGDATA. */
const spawned = new Map<string, Spawned>();

/** Told of every postmaster this process spawned or adopted on PGDATA, once it accepts connections. */
type PostmasterListener = (pgdata: string, pid: number) => void;
const listeners: PostmasterListener[] = [];

/** Calls `fn` for every postmaster this process starts or adopts from now on (the pod's watch). */
export function onPostmasterUp(fn: PostmasterListener): () => void {
  listeners.push(fn);
  return () => listeners.splice(listeners.indexOf(fn), 1);
}

function announce(pgdata: string, pid: number): void {
  for (const fn of [...listeners]) fn(pgdata, pid);
}

export const READY_TIMEOUT_MS = 60_000;

/** The PID in PGDATA/postmaster.pid if that process is alive and is a postgres. */
export async function livePostmasterPid(pgdata: string): Promise<number | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
  try {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('postgres')) return null; // the PID was reused by something else
  } catch {
    // no /proc (not Linux): trust the pid file
  }
  return pid;
}

/** `ready` / `standby` when the postmaster on PGDATA accepts connections, else null. */
export async function postmasterState(pgdata: string): Promise<'ready' | 'standby' | null> {
  const state = await lastPidFileLine(pgdata);
  return state === 'ready' || state === 'standby' ? state : null;
}

async function lastPidFileLine(pgdata: string): Promise<string | null> {
  try {
    const lines = (await fs.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n').filter((l) => l !== '');
    return lines.length > 0 ? lines[lines.length - 1].trim() : null;
  } catch {
    return null;
  }
}

export function postgresStderrTail(pgdata: string): string {
  return spawned.get(pgdata)?.log.tail() ?? '';
}

function withTail(message: string, pgdata: string): string {
  const t = postgresStderrTail(pgdata);
  return t ? `${message}\nPostgres' last messages:\n${t}` : message;
}

export interface SpawnSpec {
  postgres: string;
  pgdata: string;
  runAs: RunAs | null;
  env: NodeJS.ProcessEnv;
  /** Extra command-line arguments after `-D <pgdata>` (the local upstream uses `-p`, `-c`). */
  args?: string[];
}

/** Spawns the postmaster and waits for readiness. Returns the PID. */
export async function startPostmaster(s: SpawnSpec): Promise<number> {
  const existing = await livePostmasterPid(s.pgdata);
  if (existing !== null) throw new Error(`a postmaster (pid ${existing}) is already running on ${s.pgdata}`);
  const child = spawn(s.postgres, ['-D', s.pgdata, ...(s.args ?? [])], spawnOptions(s.runAs, {
    env: s.env,
    cwd: s.pgdata,
    stdio: ['ignore', 'ignore', 'pipe'],
    // Own process group: a Ctrl-C in the worker's terminal must not reach Postgres directly;
    // the worker decides how Postgres stops.
    detached: true,
  }));
  const entry: Spawned = {
    pid: child.pid ?? -1,
    exit: null,
    log: new PgLogForwarder(child.stderr!),
    exited: new Promise((resolve) => {
      child.on('error', () => resolve((entry.exit = { code: null, signal: null })));
      child.on('exit', (code, signal) => resolve((entry.exit = { code, signal })));
    }),
  };
  spawned.set(s.pgdata, entry);
  if (child.pid === undefined) {
    await entry.exited;
    throw new Error(`could not spawn ${s.postgres}`);
  }
  await waitReady(s.pgdata, entry);
  announce(s.pgdata, child.pid);
  return child.pid;
}

async function waitReady(pgdata: string, entry: Spawned): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let wake: () => void = () => {};
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(pgdata, () => wake());
  } catch {
    // fall back to polling only
  }
  try {
    for (;;) {
      if (entry.exit) {
        await new Promise((r) => setTimeout(r, 120)); // let the log forwarder flush the last lines
        throw new Error(withTail(postgresExitMessage(entry.exit), pgdata));
      }
      // `ready` for a primary, `standby` for a hot standby accepting read-only connections.
      if ((await postmasterState(pgdata)) !== null) return;
      if (Date.now() > deadline) throw new Error(withTail('timed out while waiting for Postgres to start', pgdata));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
        void entry.exited.then(wake);
      });
    }
  } finally {
    watcher?.close();
  }
}

/** Waits until a postmaster we did not spawn (left by a dead pod) accepts connections. */
export async function awaitAdoptedReady(pgdata: string, pid: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while ((await postmasterState(pgdata)) === null) {
    if ((await livePostmasterPid(pgdata)) === null) throw new Error('Postgres left by an earlier attempt exited while starting');
    if (Date.now() > deadline) throw new Error('timed out while waiting for Postgres to start');
    await new Promise((r) => setTimeout(r, 100));
  }
  announce(pgdata, pid);
}

/** How often the exit of a postmaster we did not spawn is looked for (its parent is gone: no exit event). */
const ADOPTED_POLL_MS = 250;

/**
 * Resolves when the postmaster `pid` on PGDATA has exited: at once with its status for one this
 * process spawned, within a poll interval (status unknown) for one it adopted.
 */
export async function postmasterExit(pgdata: string, pid: number, abort?: AbortSignal): Promise<PostmasterExit> {
  const entry = spawned.get(pgdata);
  if (entry?.pid === pid) return entry.exit ?? Promise.race([entry.exited, aborted(abort)]);
  const stop = aborted(abort);
  stop.catch(() => undefined);
  while ((await livePostmasterPid(pgdata)) === pid) {
    await Promise.race([new Promise((r) => setTimeout(r, ADOPTED_POLL_MS)), stop]);
  }
  return { code: null, signal: null };
}

function aborted(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** The running postmaster on PGDATA: ours if we spawned it, else from postmaster.pid. */
async function currentPid(pgdata: string): Promise<number | null> {
  const entry = spawned.get(pgdata);
  return entry && entry.exit === null ? entry.pid : livePostmasterPid(pgdata);
}

/** Sends `signal` to the postmaster on PGDATA, if one runs; does not wait. */
export async function signalPostmaster(pgdata: string, signal: NodeJS.Signals): Promise<number | null> {
  const pid = await currentPid(pgdata);
  if (pid !== null) process.kill(pid, signal);
  return pid;
}

/** Sends `signal` to the postmaster on PGDATA and waits until it is gone. */
export async function stopPostmaster(
  pgdata: string,
  signal: NodeJS.Signals,
  timeoutMs = 120_000,
): Promise<PostmasterExit | null> {
  const pid = await currentPid(pgdata);
  if (pid === null) return spawned.get(pgdata)?.exit ?? null;
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  const timer = new AbortController();
  const t = setTimeout(() => timer.abort(new Error(`Postgres (pid ${pid}) did not stop within ${timeoutMs} ms after ${signal}`)), timeoutMs);
  try {
    return await postmasterExit(pgdata, pid, timer.signal);
  } finally {
    clearTimeout(t);
  }
}
