// The package's command as a pod runs it: `compute-ctl worker -c <config with spec>` starts the
// compute at once; the control-plane commands drive it through Temporal; after termination the
// process exits by itself.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client } from 'pg';
import { Connection } from '@temporalio/client';
import { freePort } from '../../src/dev/ports';
import { startTemporalServer, type TemporalServer } from '../../src/dev/temporal-server';
import { isAlive } from '../../src/postgres/os';
import { livePostmasterPid, stopPostmaster } from '../../src/postgres/postmaster';
import { configurationRequest, json, startStack, until, type Stack } from '../support/stack';
import { BIN, computeSlot, spawnWorker, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

const run = promisify(execFile);

describe('compute-ctl worker (the package bin)', () => {
  let stack: Stack;
  let slot: ComputeSlot;
  let worker: WorkerProcess;
  const env = () => ({ ...process.env, TEMPORAL_ADDRESS: stack.temporal.address });

  before(async () => {
    stack = await startStack();
    slot = await computeSlot(stack, `cli-${process.pid}`);
    const request = configurationRequest(stack, slot.pgPort, {
      roles: [{ name: 'alice', encrypted_password: null, options: null }],
      databases: [{ name: 'alicedb', owner: 'alice', options: null }],
    });
    const configPath = path.join(stack.tmp, 'config.json');
    await writeFile(configPath, JSON.stringify(request));
    worker = spawnWorker(stack, slot, { args: ['-c', configPath], findPostgres: true });
  });

  after(async () => {
    if (worker.proc.exitCode === null) worker.proc.kill('SIGKILL');
    await stopPostmaster(slot.pgdata, 'SIGQUIT').catch(() => undefined);
    await stack?.stop();
  });

  test('with a spec in --config it goes to running without /configure', async () => {
    const status = await until('running', async () => {
      const s = await json(await worker.api('/status'));
      if (s.status === 'failed') throw new Error(s.error);
      return s.status === 'running' ? s : undefined;
    });
    assert.ok(status.startup_metrics.total_startup_ms > 0);
    assert.equal(status.startup_metrics.wait_for_spec_ms, 0);
    const db = new Client({ host: '127.0.0.1', port: slot.pgPort, user: 'alice', database: 'alicedb' });
    await db.connect();
    assert.equal((await db.query('SELECT current_database() AS d')).rows[0].d, 'alicedb');
    await db.end();
  });

  test('control-plane commands talk to it through Temporal', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'status', '-i', slot.computeId], { env: env() });
    assert.equal(JSON.parse(stdout).status, 'running');
    const list = JSON.parse((await run(process.execPath, [BIN, 'list'], { env: env() })).stdout);
    assert.ok(list.some((c: { computeId: string; status: string }) => c.computeId === slot.computeId && c.status === 'running'));
  });

  test('terminate --mode immediate stops Postgres; the process exits 0 soon after', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'terminate', '-i', slot.computeId, '--mode', 'immediate'], { env: env() });
    assert.match(JSON.parse(stdout).lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(await livePostmasterPid(slot.pgdata), null);
    assert.equal((await worker.exited).code, 0);
  });

  test('bad flags are refused with a clear message', async () => {
    await assert.rejects(
      run(process.execPath, [BIN, 'worker', '-i', 'x', '-D', '/tmp/x', '-C', 'not a url', '--temporal-address', '127.0.0.1:1'], { env: env() }),
      (err: { stderr: string; code: number }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, /--connstr must be a URL/);
        return true;
      },
    );
  });
});

describe('the worker process and its environment', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  /** A compute whose startup config holds a spec (`-c`): a worker started with `args` starts it at once. */
  async function specSlot(name: string): Promise<{ slot: ComputeSlot; args: string[] }> {
    const slot = await computeSlot(stack, `${name}-${process.pid}`);
    const configPath = path.join(stack.tmp, `${name}-${process.pid}.json`);
    await writeFile(configPath, JSON.stringify(configurationRequest(stack, slot.pgPort)));
    return { slot, args: ['-c', configPath] };
  }
  const running = (w: WorkerProcess) => until('running', async () => ((await json(await w.api('/status'))).status === 'running' ? true : undefined));

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
    test(`${signal} forwards termination to Postgres (fast shutdown: sessions ended at once, 57P01) and exits 1; the lifecycle lives on (§9)`, async () => {
      const { slot, args } = await specSlot(`sig-${signal.toLowerCase()}`);
      const w = spawnWorker(stack, slot, { args });
      await running(w);
      const pid = (await livePostmasterPid(slot.pgdata))!;
      // A session that stays open: a fast shutdown ends it at once with 57P01 (a smart one would wait).
      const session = new Client({ connectionString: slot.connstr });
      const ended = new Promise<{ code?: string }>((resolve) => session.on('error', (err) => resolve(err as { code?: string })));
      await session.connect();
      await session.query('SELECT 1');
      w.proc.kill(signal);
      const exit = await w.exited;
      assert.equal(exit.code, 1);
      assert.equal((await ended).code, '57P01');
      await until('Postgres gone', async () => (isAlive(pid) ? undefined : true), 20_000);
      await session.end().catch(() => undefined);
      // SIGINT is a fast shutdown: a shutdown checkpoint, so the cluster is cleanly "shut down".
      const control = execFileSync(path.join(path.dirname(stack.postgres), 'pg_controldata'), [slot.pgdata], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      assert.match(control, /^Database cluster state:\s+shut down$/m);
      // The worker went, the compute's lifecycle did not: a restarted worker finds it.
      const { stdout } = await run(process.execPath, [BIN, 'status', '-i', slot.computeId], { env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address } });
      assert.equal(JSON.parse(stdout).status, 'running', 'as the lifecycle last knew it');
    });
  }

  test('a pod restarted (worker stopped with its Postgres, then started again): configured through Temporal, the compute runs again', async () => {
    // As `docker compose down` and `up`: the worker without a spec, the control plane's configure.
    const slot = await computeSlot(stack, `again-${process.pid}`);
    const specPath = path.join(stack.tmp, `again-${process.pid}.json`);
    await writeFile(specPath, JSON.stringify(configurationRequest(stack, slot.pgPort)));
    const env = { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address };
    const configure = () => run(process.execPath, [BIN, 'configure', '-i', slot.computeId, '--spec', specPath], { env });
    const first = spawnWorker(stack, slot);
    await until('/status', async () => ((await first.api('/status')).ok ? true : undefined));
    assert.equal(JSON.parse((await configure()).stdout).status, 'running');
    first.proc.kill('SIGTERM');
    await first.exited;

    const second = spawnWorker(stack, slot);
    try {
      await until('a fresh lifecycle', async () => ((await json(await second.api('/status'))).status === 'empty' ? true : undefined));
      assert.match(second.log(), /was running, but no Postgres runs on .*: starting a new lifecycle run/);
      // Its log: JSON lines with the compute's id, or Postgres' own lines, marked.
      for (const line of (first.log() + second.log()).split('\n').filter(Boolean)) {
        if (line.startsWith('PG:')) continue;
        const entry = JSON.parse(line) as { compute_id?: string; level?: unknown; msg?: unknown };
        assert.equal(entry.compute_id, slot.computeId, line);
        assert.ok(entry.level !== undefined && entry.msg !== undefined, line);
      }
      // The container probes: alive (and Temporal reachable), not ready until the compute runs.
      const probe = (...args: string[]) => run(process.execPath, [BIN, 'probe', `--url=http://127.0.0.1:${slot.ext}`, ...args], { env });
      await probe('--temporal');
      await assert.rejects(probe('--ready'), /the compute is empty, not running/);
      assert.equal(JSON.parse((await configure()).stdout).status, 'running');
      await probe('--ready');
      const c = new Client({ connectionString: slot.connstr });
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      // The previous run is kept for operators, ended with the reason.
      const { Client: TemporalClient, Connection } = await import('@temporalio/client');
      const client = new TemporalClient({ connection: await Connection.connect({ address: stack.temporal.address }) });
      try {
        await until('both runs listed', async () => {
          const runs: string[] = [];
          for await (const w of client.workflow.list({ query: `WorkflowId = 'compute-${slot.computeId}'` })) runs.push(w.status.name);
          return runs.sort().join() === 'RUNNING,TERMINATED' ? true : undefined;
        }, 10_000);
      } finally {
        await client.connection.close();
      }
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }
  });

  test("the control plane configures a compute whose pod is still booting: the configuration waits for the pod, it is not 'not found'", async () => {
    const slot = await computeSlot(stack, `early-${process.pid}`);
    const specPath = path.join(stack.tmp, `early-${process.pid}.json`);
    await writeFile(specPath, JSON.stringify(configurationRequest(stack, slot.pgPort)));
    const env = { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address };
    // Before the pod exists at all.
    const configuring = run(process.execPath, [BIN, 'configure', '-i', slot.computeId, '--spec', specPath], { env });
    await new Promise((r) => setTimeout(r, 1_500));
    const w = spawnWorker(stack, slot);
    try {
      assert.equal(JSON.parse((await configuring).stdout).status, 'running');
      assert.equal((await json(await w.api('/status'))).status, 'running');
      assert.equal((await w.api('/terminate?mode=immediate', { method: 'POST' })).status, 200);
      assert.equal((await w.exited).code, 0);
    } finally {
      if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    }
  });

  test('probe --temporal says what it names: it fails until the pod has reached its lifecycle on Temporal', async () => {
    const slot = await computeSlot(stack, `probe-${process.pid}`);
    // A pod whose Temporal is not there (a free port nothing listens on).
    const w = spawnWorker(stack, slot, { env: { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` } });
    try {
      await until('/status', async () => ((await w.api('/status')).ok ? true : undefined));
      const probe = (...args: string[]) => run(process.execPath, [BIN, 'probe', `--url=http://127.0.0.1:${slot.ext}`, ...args]);
      await probe(); // alive: Postgres serves whatever Temporal does
      await assert.rejects(probe('--temporal'), /Temporal is unreachable/);
    } finally {
      w.proc.kill('SIGKILL');
      await w.exited;
    }
  });

  test('a postmaster left running on PGDATA is stopped before PGDATA is wiped for a new start', async () => {
    const { slot, args } = await specSlot('orphan');
    const first = spawnWorker(stack, slot, { args });
    await running(first);
    const orphan = (await livePostmasterPid(slot.pgdata))!;
    first.proc.kill('SIGKILL'); // the postmaster outlives it (its own process group)
    await first.exited;
    assert.ok(isAlive(orphan));
    // An operator ends the lifecycle: the next worker starts the compute anew on the same PGDATA.
    const { Client: TemporalClient, Connection } = await import('@temporalio/client');
    const connection = await Connection.connect({ address: stack.temporal.address });
    await new TemporalClient({ connection }).workflow.getHandle(`compute-${slot.computeId}`).terminate('ended by an operator');
    await connection.close();
    const second = spawnWorker(stack, slot, { args });
    try {
      await until('running again', async () => {
        const s = await json(await second.api('/status'));
        return s.status === 'running' && (await livePostmasterPid(slot.pgdata)) !== orphan ? true : undefined;
      });
      assert.equal(isAlive(orphan), false, 'the old postmaster was stopped');
      const now = (await livePostmasterPid(slot.pgdata))!;
      assert.ok(isAlive(now) && now !== orphan);
      const c = new Client({ connectionString: slot.connstr });
      await c.connect();
      assert.equal((await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = $1', ['checkpointer'])).rows[0].n, 1);
      await c.end();
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }
  });

  test('/terminate?mode=immediate: Postgres gets SIGQUIT (no shutdown checkpoint), the worker exits 0 at once', async () => {
    const { slot, args } = await specSlot('immediate');
    const w = spawnWorker(stack, slot, { args });
    await running(w);
    const pid = (await livePostmasterPid(slot.pgdata))!;
    const res = await w.api('/terminate?mode=immediate', { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(isAlive(pid), false);
    // An immediate shutdown writes no shutdown checkpoint: the cluster reads as not cleanly stopped.
    const control = execFileSync(path.join(path.dirname(stack.postgres), 'pg_controldata'), [slot.pgdata], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    assert.match(control, /^Database cluster state:\s+in production$/m);
    assert.equal((await w.exited).code, 0);
  });

  test('a crash of the worker (an exception nothing catches) stops its Postgres before it exits', async () => {
    const { slot, args } = await specSlot('crash');
    const w = spawnWorker(stack, slot, { args, env: { COMPUTE_CTL_FAILPOINTS: 'applyCatalog-after=crash' } });
    const exit = await w.exited;
    assert.equal(exit.code, 1);
    assert.match(w.log(), /"level":"error","msg":"the worker failed: Error: failpoint applyCatalog-after: crash/);
    // The postmaster that was running when the worker crashed (its own log line names its pid): the
    // crash happens after the catalog step, which needs it up. Polling for it while the worker runs
    // could miss the moment on a loaded machine.
    const ready = /PG:[^\n]*\[(\d+)\] LOG:  database system is ready to accept connections/.exec(w.log());
    assert.ok(ready, 'Postgres had started');
    const pid = Number(ready[1]);
    await until('Postgres gone', async () => (isAlive(pid) ? undefined : true), 20_000);
    assert.equal(await livePostmasterPid(slot.pgdata), null);
  });

  test('--control-plane-uri: the spec is fetched with the token; 502/503 retried, each attempt counted', async () => {
    const slot = await computeSlot(stack, `cp-${process.pid}`);
    const answer = { status: 'attached', ...configurationRequest(stack, slot.pgPort) };
    const seen: { url: string; auth: string | undefined }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      if (seen.length <= 2) return void res.writeHead(503).end('busy');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const w = spawnWorker(stack, slot, { args: ['-p', uri], env: { NEON_CONTROL_PLANE_TOKEN: 'cp-token' } });
    try {
      await running(w);
      assert.deepEqual(seen, Array(3).fill({ url: `/compute/api/v2/computes/${slot.computeId}/spec`, auth: 'Bearer cp-token' }));
      const metrics = await (await w.api('/metrics')).text();
      assert.match(metrics, /^compute_ctl_cplane_requests_total\{rpc="GetConfig",http_status="503 Service Unavailable"\} 2$/m);
      assert.match(metrics, /^compute_ctl_cplane_requests_total\{rpc="GetConfig",http_status="200 OK"\} 1$/m);
    } finally {
      await w.api('/terminate?mode=immediate', { method: 'POST' }).catch(() => null);
      await w.exited;
      server.close();
    }
  });

  test('--control-plane-uri: an unknown compute (404) is not retried; the worker exits 1 saying so', async () => {
    const slot = await computeSlot(stack, `cp404-${process.pid}`);
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      res.writeHead(404).end('unknown compute');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await run(process.execPath, [BIN, 'worker', '-i', slot.computeId, '-D', slot.pgdata, '-C', slot.connstr, '-p', uri], {
      env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address },
    }).then(() => null, (err: { code: number; stderr: string }) => err);
    server.close();
    assert.ok(result);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /control plane answered 404 for compute/);
    assert.equal(requests, 1);
  });
});


describe('search attributes on a namespace that lacks them', () => {
  let temporal: TemporalServer;
  before(async () => {
    temporal = await startTemporalServer({ port: await freePort(), searchAttributes: false });
  });
  after(async () => {
    await temporal?.stop();
  });
  const registered = async () => {
    const connection = await Connection.connect({ address: temporal.address });
    try {
      return Object.keys((await connection.operatorService.listSearchAttributes({ namespace: 'default' })).customAttributes ?? {});
    } finally {
      await connection.close();
    }
  };

  test('compute-ctl setup-namespace registers them (Keyword), once', async () => {
    assert.ok(!(await registered()).includes('ComputeStatus'));
    const env = { ...process.env, TEMPORAL_ADDRESS: temporal.address };
    const first = JSON.parse((await run(process.execPath, [BIN, 'setup-namespace'], { env })).stdout);
    assert.deepEqual(first, { namespace: 'default', added: ['ComputeId', 'TenantId', 'TimelineId', 'ComputeStatus', 'ComputeMode'] });
    for (const name of first.added) assert.ok((await registered()).includes(name), name);
    const again = JSON.parse((await run(process.execPath, [BIN, 'setup-namespace'], { env })).stdout);
    assert.deepEqual(again.added, []);
    // Another namespace that does not exist: a clear error, exit 1.
    await assert.rejects(run(process.execPath, [BIN, 'setup-namespace', '--temporal-namespace', 'nowhere'], { env }), /could not register .* in namespace nowhere/);
  });
});
