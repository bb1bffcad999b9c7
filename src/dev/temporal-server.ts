// The Temporal CLI dev server (SQLite, optional UI) as a child process, for `npm run dev`, the
// tests and the benchmark. The binary is built into .tools/bin by scripts/setup.sh.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_KEYS } from '../compute/search-attributes';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export function temporalCliPath(): string {
  const p = process.env.TEMPORAL_CLI ?? path.join(REPO_ROOT, '.tools', 'bin', 'temporal');
  if (!existsSync(p)) throw new Error(`Temporal CLI not found at ${p}; run npm run setup`);
  return p;
}

export interface TemporalServerOptions {
  port: number;
  /** UI port; headless when absent. */
  uiPort?: number;
  /** SQLite file; in memory when absent. */
  dbFilename?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** The UI decodes payloads through this codec server (`compute-ctl codec-server`). */
  uiCodecEndpoint?: string;
  /** Register the compute search attributes at start (default); false: a bare namespace, as a new cluster's. */
  searchAttributes?: boolean;
}

export interface TemporalServer {
  address: string;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
  /** kill -9: no chance to flush or close anything (crash tests). */
  kill(): Promise<void>;
}

export async function startTemporalServer(o: TemporalServerOptions): Promise<TemporalServer> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(o.port), '--log-level', o.logLevel ?? 'error'];
  args.push(...(o.uiPort ? ['--ui-port', String(o.uiPort)] : ['--headless']));
  if (o.dbFilename) args.push('--db-filename', o.dbFilename);
  if (o.uiCodecEndpoint) args.push('--ui-codec-endpoint', o.uiCodecEndpoint);
  // Registered at start, so that the first compute's workflows carry them (no wait for the namespace).
  if (o.searchAttributes !== false) for (const key of SEARCH_ATTRIBUTE_KEYS) args.push('--search-attribute', `${key.name}=Keyword`);
  // One partition per task queue (docs/fleet.md): a compute's queue has one poller, its pod. The dev
  // server's flags take no per-queue constraint, so here the orchestrators' queue has one as well;
  // a cluster gives it more (deploy/temporal/dynamicconfig.yaml).
  args.push('--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1', '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1');
  // Own process group: a Ctrl-C in the terminal must not stop it before the compute is terminated.
  const child = spawn(temporalCliPath(), args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const address = `127.0.0.1:${o.port}`;

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`the Temporal dev server exited during start-up: ${stderr.trim()}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the Temporal dev server did not answer on ${address} within 60 s`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    address,
    uiUrl: o.uiPort ? `http://127.0.0.1:${o.uiPort}` : null,
    process: child,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(t);
    },
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
  };
}
