// Running PostgreSQL's programs: PostgreSQL refuses to run as root, so when compute-ctl is root they
// run as an unprivileged OS user (--pg-user) and PGDATA belongs to that user.
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';

export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/** null when we are not root: then everything runs as ourselves. */
export function resolveRunAs(pgUser: string): RunAs | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', pgUser], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', pgUser], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(`running as root, but the OS user '${pgUser}' for PostgreSQL does not exist; create it or pass --pg-user`);
  }
  if (uid === 0) throw new Error(`--pg-user ${pgUser} is root; PostgreSQL refuses to run as root`);
  return { user: pgUser, uid, gid };
}

/** The environment of a Postgres process: ours, with NEON_AUTH_TOKEN exactly when a token is given. */
export function postgresEnv(token: string | null | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NEON_AUTH_TOKEN;
  if (token) env.NEON_AUTH_TOKEN = token;
  return env;
}

export function spawnOptions(runAs: RunAs | null, extra: SpawnOptions = {}): SpawnOptions {
  // libuv drops root's supplementary groups when uid/gid are set.
  return runAs ? { ...extra, uid: runAs.uid, gid: runAs.gid } : extra;
}

export async function chown(p: string, runAs: RunAs | null): Promise<void> {
  if (runAs) await fs.lchown(p, runAs.uid, runAs.gid);
}

/** Writes a file owned by the PostgreSQL user, atomically (temp file + rename). */
export async function writeOwnedFile(file: string, contents: string, runAs: RunAs | null, mode = 0o600): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  await fs.writeFile(tmp, contents, { mode });
  await chown(tmp, runAs);
  await fs.rename(tmp, file);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, capturing its output. */
export function runProgram(
  file: string,
  args: string[],
  opts: { runAs: RunAs | null; env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, spawnOptions(opts.runAs, {
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? '/',
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: opts.signal,
    }));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Last `n` non-empty lines of a program's output, for error messages. */
export function tail(text: string, n = 10): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');
}

/** Whether process `pid` runs (not a zombie waiting to be reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie has exited; it only waits to be reaped (an orphaned postmaster whose parent, a killed
  // worker, was replaced by a PID 1 that does not reap).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux)
  }
}

/** The pid a pid file starts with (pgbouncer's and local_proxy's hold one number), or null. */
export function pidIn(text: string): number | null {
  const pid = Number(text.trim().split(/\s/)[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * §9: `signal` to the live process whose pid `pidFile` holds; the pid, or null when there is no
 * such file or process (nothing to stop).
 */
export async function signalFromPidFile(pidFile: string, signal: NodeJS.Signals): Promise<number | null> {
  const pid = pidIn(await fs.readFile(pidFile, 'utf8').catch(() => ''));
  if (pid === null || !isAlive(pid)) return null;
  try {
    process.kill(pid, signal);
    return pid;
  } catch {
    return null; // gone in between
  }
}
