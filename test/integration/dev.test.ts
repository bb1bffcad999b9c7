// `npm run dev`, the main job, as a user runs it: the stack comes up with one running compute and
// the banner last; SIGINT to the process alone stops everything it started, and so does SIGTERM
// delivered twice at once (`timeout`, which signals the process group, and npm forwarding it); a
// second run starts again from the same data directory. On free ports (DEV_PORT_OFFSET) and its own
// data directory.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Client } from 'pg';
import { portIsFree } from '../../src/dev/ports';
import { until } from '../support/stack';

const DEV = path.join(__dirname, '../../src/dev/index.js');
const BASE = [7233, 8233, 8081, 3090, 55431, 55432, 3080, 3081];

async function freeOffset(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = 1000 + Math.floor(Math.random() * 9000);
    if ((await Promise.all(BASE.map((p) => portIsFree(p + offset)))).every(Boolean)) return offset;
  }
  throw new Error('no free set of ports for the dev stack');
}

interface DevRun {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runDev(env: Record<string, string>): DevRun {
  const proc = spawn(process.execPath, [DEV], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output: () => output, exited };
}

describe('npm run dev', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  test('comes up with the banner last, stops on SIGINT to its process alone and on SIGTERM sent twice at once, and starts again from its data', async () => {
    const offset = await freeOffset();
    const data = await mkdtemp(path.join(tmpdir(), 'compute-ctl-dev-'));
    await chmod(data, 0o755); // as .data is made: Postgres' OS user reads through it
    cleanups.push(() => rm(data, { recursive: true, force: true }));
    const env = { DEV_PORT_OFFSET: String(offset), DEV_DATA_DIR: data };
    const api = `http://127.0.0.1:${3080 + offset}`;

    for (const round of [1, 2]) {
      const dev = runDev(env);
      // After a failure: stopped as a user would (its children are in their own process groups).
      cleanups.push(async () => {
        if (dev.proc.exitCode !== null) return;
        dev.proc.kill('SIGINT');
        const t = setTimeout(() => dev.proc.kill('SIGKILL'), 60_000);
        await dev.exited;
        clearTimeout(t);
      });
      await until(`the banner (run ${round})`, async () => {
        if (dev.proc.exitCode !== null) throw Object.assign(new Error(`npm run dev exited: ${dev.output()}`), { final: true });
        return dev.output().includes('Ctrl-C terminates the compute') ? true : undefined;
      }, 180_000);
      assert.match(dev.output(), /compute dev is running \(started in \d+ ms\)/);
      // Nothing after the banner: the worker's and Postgres' lines go to its log file.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.match(dev.output(), /for a new stack\)\.\n+$/, `the banner is the last thing printed:\n${dev.output().slice(-600)}`);
      assert.ok((await readFile(path.join(data, 'worker.log'), 'utf8')).includes('PG:'), "the worker's log holds Postgres' lines");

      const token = (await readFile(path.join(data, 'admin.token'), 'utf8')).trim();
      const status = (await (await fetch(`${api}/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string };
      assert.equal(status.status, 'running');
      // The UI's codec server answers the UI's origin.
      const pre = await fetch(`http://127.0.0.1:${8081 + offset}/decode`, { method: 'OPTIONS', headers: { origin: `http://127.0.0.1:${8233 + offset}` } });
      assert.equal(pre.status, 204);

      if (round === 1) dev.proc.kill('SIGINT'); // the process alone, not its group: as `kill -INT <npm's pid>` after exec
      else {
        // `timeout 120 npm run dev`: SIGTERM to the group, and npm forwards its own: one request, twice.
        dev.proc.kill('SIGTERM');
        dev.proc.kill('SIGTERM');
      }
      assert.equal(await dev.exited, 0, dev.output().slice(-2000));
      for (const p of BASE) assert.ok(await portIsFree(p + offset), `port ${p + offset} released after run ${round}`);
    }
  });

  test('DEV_PG_VERSION=16 runs a PostgreSQL 16 compute from the embedded build (copied over the replication protocol)', async () => {
    const offset = await freeOffset();
    const data = await mkdtemp(path.join(tmpdir(), 'compute-ctl-dev16-'));
    await chmod(data, 0o755);
    cleanups.push(() => rm(data, { recursive: true, force: true }));
    const dev = runDev({ DEV_PORT_OFFSET: String(offset), DEV_DATA_DIR: data, DEV_PG_VERSION: '16' });
    cleanups.push(async () => dev.proc.exitCode === null && dev.proc.kill('SIGINT') && (await dev.exited));
    await until('the banner', async () => {
      if (dev.proc.exitCode !== null) throw Object.assign(new Error(`npm run dev exited: ${dev.output()}`), { final: true });
      return dev.output().includes('Ctrl-C terminates the compute') ? true : undefined;
    }, 180_000);
    const token = (await readFile(path.join(data, 'admin.token'), 'utf8')).trim();
    const status = (await (await fetch(`http://127.0.0.1:${3080 + offset}/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: string; pg_version: string };
    assert.deepEqual([status.status, status.pg_version], ['running', 'v16']);
    const c = new Client({ connectionString: `postgresql://neondb_owner:dev-password@127.0.0.1:${55432 + offset}/neondb` });
    await c.connect();
    assert.match((await c.query<{ v: string }>('SELECT version() AS v')).rows[0].v, /^PostgreSQL 16\./);
    await c.end();
    dev.proc.kill('SIGINT');
    assert.equal(await dev.exited, 0);
  });
});
