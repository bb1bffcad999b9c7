// The package's command as a pod runs it: `compute-ctl worker -c <config with spec>` starts the
// compute at once; the control-plane commands drive it through Temporal; after termination the
// process exits by itself.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client } from 'pg';
import { livePostmasterPid, stopPostmaster } from '../../src/activities/postmaster';
import { freePort } from '../../src/dev/ports';
import { configurationRequest, json, startStack, until, type Stack } from '../support/stack';

const run = promisify(execFile);
const BIN = path.join(__dirname, '../../../bin/compute-ctl.js');


describe('compute-ctl worker (the package bin)', () => {
  let stack: Stack;
  let worker: ChildProcess;
  let exited: Promise<number | null>;
  let api: string;
  let pgPort: number;
  let pgdata: string;
  const computeId = `cli-${process.pid}`;
  const env = () => ({ ...process.env, TEMPORAL_ADDRESS: stack.temporal.address });

  before(async () => {
    stack = await startStack();
    const [ext, int] = [await freePort(), await freePort()];
    pgPort = await freePort();
    pgdata = path.join(stack.tmp, 'cli-pgdata');
    const request = configurationRequest(stack, pgPort, {
      roles: [{ name: 'alice', encrypted_password: null, options: null }],
      databases: [{ name: 'alicedb', owner: 'alice', options: null }],
    });
    const configPath = path.join(stack.tmp, 'config.json');
    await writeFile(configPath, JSON.stringify(request));
    worker = spawn(process.execPath, [
      BIN, 'worker', '-i', computeId, '-D', pgdata, '-C', `postgresql://cloud_admin@127.0.0.1:${pgPort}/postgres`,
      '-c', configPath, '--external-http-port', String(ext), '--internal-http-port', String(int), '--log-level', 'warn',
    ], { env: env(), stdio: ['ignore', 'ignore', 'inherit'] });
    exited = new Promise((resolve) => worker.once('exit', (code) => resolve(code)));
    api = `http://127.0.0.1:${ext}`;
  });

  after(async () => {
    if (worker.exitCode === null) worker.kill('SIGKILL');
    await stopPostmaster(pgdata, 'SIGQUIT').catch(() => undefined);
    await stack?.stop();
  });

  test('with a spec in --config it goes to running without /configure', async () => {
    const status = await until('running', async () => {
      const s = await json(await fetch(`${api}/status`));
      if (s.status === 'failed') throw new Error(s.error);
      return s.status === 'running' ? s : undefined;
    });
    assert.ok(status.startup_metrics.total_startup_ms > 0);
    assert.equal(status.startup_metrics.wait_for_spec_ms, 0);
    const db = new Client({ host: '127.0.0.1', port: pgPort, user: 'alice', database: 'alicedb' });
    await db.connect();
    assert.equal((await db.query('SELECT current_database() AS d')).rows[0].d, 'alicedb');
    await db.end();
  });

  test('control-plane commands talk to it through Temporal', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'status', '-i', computeId], { env: env() });
    assert.equal(JSON.parse(stdout).status, 'running');
    const list = JSON.parse((await run(process.execPath, [BIN, 'list'], { env: env() })).stdout);
    assert.ok(list.some((c: { computeId: string; status: string }) => c.computeId === computeId && c.status === 'running'));
  });

  test('terminate --mode immediate stops Postgres; the process exits 0 soon after', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'terminate', '-i', computeId, '--mode', 'immediate'], { env: env() });
    assert.match(JSON.parse(stdout).lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(await livePostmasterPid(pgdata), null);
    assert.equal(await exited, 0);
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
