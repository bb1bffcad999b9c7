// Postgres' neighbours in the pod, through the worker's flags: a real pgbouncer tuned by
// pgbouncer_settings (SHOW CONFIG on its console, a client through it), local_proxy_config given to a
// stand-in local_proxy (the file and the SIGHUP it records), and the VM's swap and disk-quota
// helpers (stand-in scripts recording their arguments and that Postgres had not started yet).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { lifecycleWorkflowId } from '../../src/compute/ids';
import { freePort } from '../../src/dev/ports';
import { chown, spawnOptions } from '../../src/postgres/os';
import { makeCertificate } from '../support/certificates';
import { postmasters } from '../support/postmasters';
import { configurationRequest, json, postJson, queryRows, until } from '../support/stack';
import { useWorkerProcesses, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

const ROLES = [{ name: 'owner', encrypted_password: null, options: null }];
const DATABASES = [{ name: 'appdb', owner: 'owner', options: null }];

describe("Postgres' neighbours: pgbouncer, local_proxy, swap and disk quota", () => {
  const t = useWorkerProcesses();

  async function pod(name: string, args: string[]): Promise<{ slot: ComputeSlot; w: WorkerProcess }> {
    const slot = await t.slot(`${name}-${process.pid}`);
    const w = t.spawn(slot, { args });
    await until(`${name}'s API`, async () => ((await w.api('/status').catch(() => null))?.ok ? true : undefined), 60_000);
    return { slot, w };
  }

  const configure = (slot: ComputeSlot, w: WorkerProcess, extra: Record<string, unknown>, roles: unknown[] = ROLES) =>
    w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort, { roles, databases: DATABASES }, extra)));

  async function dir(name: string): Promise<string> {
    const d = path.join(t.stack.tmp, `${name}-${process.pid}`);
    await mkdir(d, { recursive: true });
    await chown(d, t.stack.runAs);
    return d;
  }

  /** The activities of the compute's lifecycle history: type → how each attempt ended. */
  async function lifecycleActivities(computeId: string): Promise<{ type: string; failed?: string }[]> {
    const connection = await Connection.connect({ address: t.stack.temporal.address });
    try {
      const events = (await new TemporalClient({ connection }).workflow.getHandle(lifecycleWorkflowId(computeId)).fetchHistory()).events ?? [];
      const types = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!]));
      return events.flatMap((e) => {
        if (e.activityTaskCompletedEventAttributes) return [{ type: types.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId))! }];
        const f = e.activityTaskFailedEventAttributes;
        if (f) return [{ type: types.get(String(f.scheduledEventId))!, failed: f.failure?.applicationFailureInfo?.type ?? f.failure?.message ?? '?' }];
        return [];
      });
    } finally {
      await connection.close();
    }
  }

  /** A startup config (-c) giving the pod a TLS pair (compute_ctl_config.tls) readable by Postgres' user. */
  async function tlsConfig(d: string): Promise<{ file: string; keyPath: string; certPath: string }> {
    const pair = makeCertificate(d, 'neighbours');
    for (const f of [pair.keyPath, pair.certPath]) await chown(f, t.stack.runAs);
    const file = path.join(d, 'compute-ctl.json');
    await writeFile(file, JSON.stringify({ compute_ctl_config: { jwks: { keys: [] }, tls: { key_path: pair.keyPath, cert_path: pair.certPath } } }));
    return { file, ...pair };
  }

  test('pgbouncer_settings: written into the ini and RELOADed, at the start and on a reconfiguration, with the pod TLS pair; clients connect through pgbouncer', async () => {
    const d = await dir('pgbouncer');
    const tls = await tlsConfig(d);
    const [bouncerPort] = [await freePort()];
    const slot = await t.slot(`bouncer-${process.pid}`);
    const ini = path.join(d, 'pgbouncer.ini');
    await writeFile(path.join(d, 'userlist.txt'), '"postgres" ""\n"cloud_admin" ""\n');
    await writeFile(ini, [
      '[databases]', `* = host=127.0.0.1 port=${slot.pgPort}`, '',
      '[pgbouncer]', 'listen_addr = 127.0.0.1', `listen_port = ${bouncerPort}`, 'unix_socket_dir =', 'auth_type = trust',
      `auth_file = ${d}/userlist.txt`, 'admin_users = postgres', `pidfile = ${d}/pgbouncer.pid`, `logfile = ${d}/pgbouncer.log`,
      '; kept: a comment of the operator', 'default_pool_size = 20', '',
    ].join('\n'));
    for (const f of ['userlist.txt', 'pgbouncer.ini']) await chown(path.join(d, f), t.stack.runAs);
    const bouncer: ChildProcess = spawn('/usr/sbin/pgbouncer', [ini], spawnOptions(t.stack.runAs, { stdio: 'ignore' }));
    const admin = `postgresql://postgres@127.0.0.1:${bouncerPort}/pgbouncer`;
    try {
      await until('pgbouncer listening', async () => ((await queryRows(admin, 'SHOW VERSION').catch(() => null)) ? true : undefined), 20_000);
      const config = async (key: string) => (await queryRows<{ key: string; value: string }>(admin, 'SHOW CONFIG')).find((r) => r.key === key)?.value;
      const w = t.spawn(slot, { args: ['-c', tls.file, '--pgbouncer-ini', ini, '--pgbouncer-admin', admin, '--pgbouncer-pid', path.join(d, 'pgbouncer.pid')] });
      await until("the worker's API", async () => ((await w.api('/status').catch(() => null))?.ok ? true : undefined), 60_000);

      const res = await configure(slot, w, { pgbouncer_settings: { default_pool_size: '7', max_client_conn: '123' }, features: ['tls_experimental'] });
      assert.equal(res.status, 200, JSON.stringify(await json(res)));
      await until('the settings applied', async () => ((await config('default_pool_size')) === '7' ? true : undefined), 20_000);
      assert.equal(await config('max_client_conn'), '123');
      // tls_experimental: pgbouncer serves clients with the pod's pair, as Postgres does (Neon's client_tls_*).
      assert.deepEqual([await config('client_tls_sslmode'), await config('client_tls_key_file'), await config('client_tls_cert_file')], ['allow', tls.keyPath, tls.certPath]);
      const { Client } = await import('pg');
      const secure = new Client({ connectionString: `postgresql://cloud_admin@127.0.0.1:${bouncerPort}/appdb`, ssl: { rejectUnauthorized: false } });
      await secure.connect();
      try {
        assert.deepEqual((await secure.query('SELECT current_database() AS db')).rows, [{ db: 'appdb' }]);
      } finally {
        await secure.end();
      }
      const text = await readFile(ini, 'utf8');
      assert.match(text, /^default_pool_size = 7$/m);
      assert.match(text, /^max_client_conn = 123$/m);
      assert.match(text, /^; kept: a comment of the operator$/m);
      assert.match(text, /^\* = host=127\.0\.0\.1/m, 'the other sections are kept');
      // A client through pgbouncer reaches the compute's Postgres.
      const [through] = await queryRows<{ db: string; port: number }>(`postgresql://cloud_admin@127.0.0.1:${bouncerPort}/appdb`, 'SELECT current_database() AS db, inet_server_port() AS port');
      assert.deepEqual(through, { db: 'appdb', port: slot.pgPort });

      const again = await configure(slot, w, { pgbouncer_settings: { default_pool_size: '9' }, features: ['tls_experimental'] });
      assert.equal(again.status, 200);
      await until('the new setting applied', async () => ((await config('default_pool_size')) === '9' ? true : undefined), 20_000);
      // Each tuning is a step of the lifecycle (its completion is recorded a moment after the RELOAD).
      await until('both tunings in the history', async () => {
        const done = (await lifecycleActivities(slot.computeId)).filter((a) => a.type === 'tunePgbouncer');
        return done.length === 2 && done.every((a) => !a.failed) ? true : undefined;
      }, 20_000);

      // §9: the compute's termination kills pgbouncer.
      const exited = new Promise<NodeJS.Signals | null>((resolve) => bouncer.once('exit', (_code, signal) => resolve(signal)));
      assert.equal((await w.api('/terminate', { method: 'POST' })).status, 200);
      assert.equal(await exited, 'SIGKILL');
    } finally {
      bouncer.kill('SIGTERM');
    }
  });

  test('pgbouncer not there: the compute runs; the failure is in its history', async () => {
    const d = await dir('no-pgbouncer');
    const { slot, w } = await pod('no-bouncer', ['--pgbouncer-ini', path.join(d, 'missing.ini'), '--pgbouncer-admin', `postgresql://postgres@127.0.0.1:${await freePort()}/pgbouncer`]);
    const res = await configure(slot, w, { pgbouncer_settings: { default_pool_size: '7' } });
    assert.equal(res.status, 200);
    assert.equal((await json(await w.api('/status'))).status, 'running');
    const failed = await until('the failed tuning recorded', async () => (await lifecycleActivities(slot.computeId)).find((a) => a.type === 'tunePgbouncer' && a.failed));
    assert.equal(failed.failed, 'PgbouncerConfigFailed');
  });

  /** A stand-in local_proxy in `d`: it writes its pid file and records each SIGHUP's config and a SIGTERM (then exits). */
  async function standInLocalProxy(d: string) {
    const [configFile, pidFile, record] = ['config.json', 'pid', 'record.jsonl'].map((f) => path.join(d, f));
    const proc = spawn(process.execPath, ['-e', `
      const fs = require('fs');
      fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
      process.on('SIGHUP', () => fs.appendFileSync(${JSON.stringify(record)}, fs.readFileSync(${JSON.stringify(configFile)}, 'utf8') + '\\n'));
      process.on('SIGTERM', () => { fs.appendFileSync(${JSON.stringify(record)}, '"SIGTERM"\\n'); process.exit(0); });
      setInterval(() => {}, 1000);
    `], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await until('the stand-in ready', async () => ((await readFile(pidFile, 'utf8').catch(() => '')) === String(proc.pid) ? true : undefined), 10_000);
    const seen = async () => (await readFile(record, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return { proc, exited, seen, configFile, pidFile };
  }

  test('local_proxy_config: written, local_proxy signalled at the start and on a reconfiguration; its roles plain; no local_proxy fails the start', async () => {
    const d = await dir('local-proxy');
    const { proc: standIn, exited, seen, configFile, pidFile } = await standInLocalProxy(d);
    try {
      const tls = await tlsConfig(d);
      const { slot, w } = await pod('proxy', ['-c', tls.file, '--local-proxy-config', configFile, '--local-proxy-pid', pidFile]);
      const jwks = (role: string) => ({ jwks: [{ id: 'k1', role_names: [role], jwks_url: 'https://auth.example/jwks', provider_name: 'example', jwt_audience: null }] });
      const roles = [...ROLES, { name: 'proxied', encrypted_password: null, options: null }];
      const res = await configure(slot, w, { local_proxy_config: jwks('proxied') }, roles);
      assert.equal(res.status, 200, JSON.stringify(await json(res)));
      assert.deepEqual(JSON.parse(await readFile(configFile, 'utf8')), jwks('proxied'));
      await until('the SIGHUP handled', async () => ((await seen()).length > 0 ? true : undefined), 10_000);
      assert.deepEqual(await seen(), [jwks('proxied')], 'one SIGHUP, after the config was written');
      const [role] = await queryRows<{ rolcreaterole: boolean; rolcreatedb: boolean; member: boolean }>(
        slot.connstr,
        "SELECT rolcreaterole, rolcreatedb, pg_has_role('proxied', 'neon_superuser', 'member') AS member FROM pg_roles WHERE rolname = 'proxied'",
      );
      assert.deepEqual(role, { rolcreaterole: false, rolcreatedb: false, member: false }, "local_proxy's roles have no privileged flags");

      // With tls_experimental, local_proxy is given the pod's pair too (Neon's LocalProxySpec.tls).
      assert.equal((await configure(slot, w, { local_proxy_config: jwks('owner'), features: ['tls_experimental'] }, roles)).status, 200);
      await until('the second SIGHUP', async () => ((await seen()).length === 2 ? true : undefined), 20_000);
      assert.deepEqual((await seen())[1], { ...jwks('owner'), tls: { key_path: tls.keyPath, cert_path: tls.certPath } });
      // §9: the compute's termination stops local_proxy.
      assert.equal((await w.api('/terminate', { method: 'POST' })).status, 200);
      await exited;
      assert.equal((await seen()).at(-1), 'SIGTERM');

      // No local_proxy running: a first start fails in its step, and leaves no Postgres running.
      const gone = await pod('proxy-gone', ['--local-proxy-config', path.join(d, 'other.json'), '--local-proxy-pid', path.join(d, 'no-such-pid')]);
      const failed = await configure(gone.slot, gone.w, { local_proxy_config: jwks('proxied') }, roles);
      assert.equal(failed.status, 500);
      const status = await json(await gone.w.api('/status'));
      assert.equal(status.status, 'failed');
      assert.match(status.error, /failed to configure local_proxy/);
      assert.match(status.error, /local_proxy is not running: cannot read its pid file .*no-such-pid \(ENOENT\)/);
      assert.equal(postmasters(t.stack.postgres, gone.slot.pgdata), 0, 'the failed start stopped its Postgres');
    } finally {
      standIn.kill('SIGKILL');
    }
  });

  test('an OS signal to the pod stops local_proxy, unless --dev', async () => {
    for (const dev of [true, false]) {
      const d = await dir(`signal-${dev ? 'dev' : 'prod'}`);
      const proxy = await standInLocalProxy(d);
      try {
        const { w } = await pod(`signal-${dev ? 'dev' : 'prod'}`, ['--local-proxy-pid', proxy.pidFile, ...(dev ? ['--dev'] : [])]);
        // The pod handles signals once it has reached its lifecycle (its /status no longer stale).
        await until('the lifecycle reached', async () => ((await json(await w.api('/status'))).stale === undefined ? true : undefined), 30_000);
        w.proc.kill('SIGTERM');
        assert.equal((await w.exited).code, 1);
        if (dev) {
          assert.equal(proxy.proc.exitCode, null, 'local_proxy left running');
          assert.deepEqual(await proxy.seen(), []);
        } else {
          await proxy.exited;
          assert.deepEqual(await proxy.seen(), ['SIGTERM']);
        }
      } finally {
        proxy.proc.kill('SIGKILL');
      }
    }
  });

  test('swap_size_bytes and disk_quota_bytes: the helpers run before Postgres starts, only with their flags; a failing helper fails the start', async () => {
    const d = await dir('helpers');
    const record = path.join(d, 'calls');
    const helper = async (name: string, body: string) => {
      const file = path.join(d, name);
      await writeFile(file, `#!/bin/sh\n${body}\n`);
      await chmod(file, 0o755);
      return file;
    };
    const slot = await t.slot(`helpers-${process.pid}`);
    const recording = (what: string) => `echo "${what} $* postgres-running=$([ -f ${slot.pgdata}/postmaster.pid ] && echo yes || echo no)" >> ${record}`;
    const swap = await helper('resize-swap', recording('swap'));
    const quota = await helper('set-disk-quota', recording('quota'));
    const w = t.spawn(slot, { args: ['--resize-swap-on-bind', '--resize-swap-helper', swap, '--set-disk-quota-for-fs', '/mnt/pgdata', '--disk-quota-helper', quota] });
    await until("the worker's API", async () => ((await w.api('/status').catch(() => null))?.ok ? true : undefined), 60_000);
    const res = await configure(slot, w, { swap_size_bytes: 1073741824, disk_quota_bytes: 10485760 });
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
    assert.deepEqual((await readFile(record, 'utf8')).trim().split('\n'), [
      'swap --once 1073741824 postgres-running=no',
      'quota 10240 /mnt/pgdata postgres-running=no',
    ]);

    // Without the flags the fields are left alone.
    const plain = await pod('helpers-off', []);
    assert.equal((await configure(plain.slot, plain.w, { swap_size_bytes: 1, disk_quota_bytes: 1 })).status, 200);
    assert.equal((await readFile(record, 'utf8')).trim().split('\n').length, 2, 'no helper ran');

    // A failing helper: the start fails in that step, with the helper's words, before Postgres starts.
    const failing = await helper('broken-swap', 'echo "no swap device here" >&2\nexit 3');
    const broken = await pod('helpers-broken', ['--resize-swap-on-bind', '--resize-swap-helper', failing]);
    assert.equal((await configure(broken.slot, broken.w, { swap_size_bytes: 4096 })).status, 500);
    const status = await json(await broken.w.api('/status'));
    assert.equal(status.status, 'failed');
    assert.match(status.error, /failed to resize swap/);
    assert.match(status.error, /broken-swap --once 4096 failed \(exit 3\): no swap device here/);
    assert.equal(postmasters(t.stack.postgres, broken.slot.pgdata), 0);
  });
});
