// local_proxy beside Postgres (reference §3 local_proxy_config): its config written as JSON where it
// reads it, then SIGHUP to the pid in its pid file, on which it reads the config again.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pidIn } from './os';

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

