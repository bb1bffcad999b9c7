// The floors of a start, measured beside it in the same run:
// - physical: the same work done by hand with PostgreSQL's own tools, none of our code involved:
//   pg_basebackup from the upstream, `postgres -D` until postmaster.pid says ready, then CREATE ROLE
//   and CREATE DATABASE in one psql call;
// - orchestration: Temporal's own cost of a start's shape (orchestration-floor-workflows.ts): a
//   workflow whose child runs as many no-op activities as a start has steps, on the same server, in
//   the same layout (workflows on one queue, the activities on another with one poller);
// - visit: what no re-apply of a spec can skip, one connection to each database and one read of the
//   catalog checked there (pg_default_acl), at the apply's concurrency.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseIntoClientConfig } from 'pg-connection-string';
import { forEachLimit } from '../src/postgres/catalog/execute';
import { runProgram, spawnOptions, type RunAs } from '../src/postgres/os';

async function pidFileSays(pgdata: string, state: string): Promise<boolean> {
  const text = await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => '');
  return text.trimEnd().split('\n').at(-1)?.trim() === state;
}

/** Runs the floor once; returns its milliseconds. Stops and removes what it made. */
export async function physicalFloor(o: { upstream: string; pgbinDir: string; runAs: RunAs | null; pgdata: string; port: number }): Promise<number> {
  const bin = (name: string) => path.join(o.pgbinDir, name);
  const t0 = performance.now();
  const backup = await runProgram(bin('pg_basebackup'), ['-d', o.upstream, '-D', o.pgdata, '-X', 'stream', '-c', 'fast', '--no-sync'], { runAs: o.runAs });
  if (backup.code !== 0) throw new Error(`pg_basebackup: ${backup.stderr}`);
  const postmaster = spawn(bin('postgres'), ['-D', o.pgdata, '-p', String(o.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'], spawnOptions(o.runAs, { stdio: 'ignore', cwd: o.pgdata }));
  try {
    while (!(await pidFileSays(o.pgdata, 'ready'))) {
      if (postmaster.exitCode !== null) throw new Error('postgres exited while starting');
      await new Promise((r) => setTimeout(r, 2));
    }
    const ddl = await runProgram(bin('psql'), [
      '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `postgresql://cloud_admin@127.0.0.1:${o.port}/postgres`,
      '-c', 'CREATE ROLE neondb_owner LOGIN', '-c', 'CREATE DATABASE neondb OWNER neondb_owner',
    ], { runAs: o.runAs });
    if (ddl.code !== 0) throw new Error(`psql: ${ddl.stderr}`);
    return performance.now() - t0;
  } finally {
    postmaster.kill('SIGQUIT');
    await new Promise((r) => (postmaster.exitCode !== null ? r(null) : postmaster.once('exit', r)));
    await rm(o.pgdata, { recursive: true, force: true });
  }
}

export interface OrchestrationFloor {
  /** One run: start → result of the floor workflow, in ms. */
  run(): Promise<number>;
  stop(): Promise<void>;
}

/** Workers for the orchestration floor on `address`: the workflows on one queue, the no-op activities on another. */
export async function orchestrationFloor(address: string, steps: number): Promise<OrchestrationFloor> {
  const { NativeConnection, Worker, bundleWorkflowCode } = await import('@temporalio/worker');
  const { Client } = await import('@temporalio/client');
  const connection = await NativeConnection.connect({ address });
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) };
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./orchestration-floor-workflows'), logger: quiet });
  const id = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const [workflowQueue, activityQueue] = [`bench-floor-workflows-${id}`, `bench-floor-pod-${id}`];
  const workflows = await Worker.create({ connection, taskQueue: workflowQueue, workflowBundle: bundle, stickyQueueScheduleToStartTimeout: '2 seconds' });
  const activities = await Worker.create({
    connection,
    taskQueue: activityQueue,
    activities: { noop: async () => undefined },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 1 },
  });
  const running = [workflows.run(), activities.run()];
  const client = new Client({ connection });
  let n = 0;
  const once = async () => {
    const t0 = performance.now();
    await client.workflow.execute('floorStart', { taskQueue: workflowQueue, workflowId: `bench-floor-${id}-${++n}`, args: [{ steps, activityQueue }] });
    return performance.now() - t0;
  };
  await once(); // warm: the workers' first tasks load what every later one reuses
  return {
    run: once,
    async stop() {
      workflows.shutdown();
      activities.shutdown();
      await Promise.allSettled(running);
      await connection.close();
    },
  };
}

/** One visit of each database at `concurrency`; returns its milliseconds. */
export async function visitFloor(connstr: string, databases: string[], concurrency: number): Promise<number> {
  const { Client } = await import('pg');
  const base = parseIntoClientConfig(connstr);
  const t0 = performance.now();
  await forEachLimit(databases, concurrency, async (database) => {
    const c = new Client({ ...base, database });
    await c.connect();
    await c.query('SELECT count(*) FROM pg_catalog.pg_default_acl');
    // Not waited for, as the apply does not (admin-connection.ts visitDatabase): the backend's exit
    // overlaps the next connection.
    void c.end();
  });
  return performance.now() - t0;
}
