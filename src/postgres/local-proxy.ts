// local_proxy beside Postgres (reference §3 local_proxy_config): its config written as JSON where it
// reads it, then SIGHUP to the pid in its pid file, on which it reads the config again.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function configureLocalProxy(config: unknown, configPath: string, pidPath: string): Promise<{ pid: number }> {
  await fs.mkdir(path.dirname(configPath), { recursive: true });
  const tmp = `${configPath}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(config), { mode: 0o644 });
  await fs.rename(tmp, configPath);
  const text = await fs.readFile(pidPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`local_proxy is not running: cannot read its pid file ${pidPath} (${err.code ?? err.message})`);
  });
  const pid = pidIn(text);
  if (pid === null) throw new Error(`local_proxy's pid file ${pidPath} holds no pid: ${JSON.stringify(text.slice(0, 40))}`);
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    throw new Error(`cannot signal local_proxy (pid ${pid} from ${pidPath}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { pid };
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
  if (pid === null) return null;
  try {
    process.kill(pid, signal);
    return pid;
  } catch {
    return null; // gone already
  }
}
