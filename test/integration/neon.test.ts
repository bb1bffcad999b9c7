// Computes started from Neon storage, exactly as compute_ctl does it, against wire-level fixtures
// of the pageserver and the safekeepers, and a real Postgres started from the served basebackup.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Client } from 'pg';
import { freePort } from '../../src/dev/ports';
import { livePostmasterPid } from '../../src/postgres/postmaster';
import { FIXTURE_TENANT, FIXTURE_TIMELINE, makeBasebackupTarball, makeNeonPgbin, PageserverFixture, SafekeeperFixture } from '../fixtures/neon';
import { recordHistories } from '../support/histories';
import { computeSlot, spawnWorker } from '../support/worker-process';
import { json, postJson, startCompute, startStack, until, type ComputeUnderTest, type Stack } from '../support/stack';

// The only tenant and timeline the fixtures serve.
const [TENANT, TIMELINE] = [FIXTURE_TENANT, FIXTURE_TIMELINE];
const TOKEN = 'eyJhbGciOiJFZERTQSJ9.test-storage-token';

describe('Neon storage (fixtures: pageserver, safekeepers, sync-safekeepers)', () => {
  let stack: Stack;
  let pageserver: PageserverFixture;
  let pageserver2: PageserverFixture;
  let safekeepers: SafekeeperFixture[];
  let neonPostgres: string;
  let syncLog: string;
  let backupLsn: string;
  let tarballBytes: number;
  const computes: ComputeUnderTest[] = [];

  before(async () => {
    stack = await startStack();
    const { tarball, lsn } = await makeBasebackupTarball(stack.upstream.connstring, path.dirname(stack.postgres), stack.runAs, stack.tmp);
    backupLsn = lsn.toUpperCase();
    tarballBytes = tarball.length;
    pageserver = new PageserverFixture(tarball, TOKEN);
    await pageserver.server.listen();
    pageserver2 = new PageserverFixture(tarball, TOKEN);
    await pageserver2.server.listen();
    safekeepers = [new SafekeeperFixture(TOKEN), new SafekeeperFixture(TOKEN), new SafekeeperFixture(TOKEN)];
    await Promise.all(safekeepers.map((sk) => sk.server.listen()));
    ({ postgres: neonPostgres, log: syncLog } = await makeNeonPgbin(stack.tmp, stack.postgres, stack.runAs));
    process.env.FIXTURE_SYNC_SK_LSN = '0/ABCDEF0';
  });
  // Whatever a test did to the fixtures (even one that failed half-way), the next finds them as new.
  afterEach(() => {
    for (const p of [pageserver, pageserver2]) Object.assign(p, { down: false, leaseLengthMs: 600_000, basebackupFault: null });
    for (const sk of safekeepers) Object.assign(sk, { refuse: false, delayMs: 0 });
    delete process.env.FIXTURE_SYNC_SK_FAIL;
  });
  after(async () => {
    for (const c of computes) await c.stop();
    await Promise.allSettled([pageserver?.server.close(), pageserver2?.server.close(), ...(safekeepers ?? []).map((sk) => sk.server.close())]);
    await stack?.stop();
  });

  async function compute(opts: { basebackupRetries?: number; leaseRoundsPerRun?: number } = {}): Promise<ComputeUnderTest> {
    const c = await startCompute(stack, { postgres: neonPostgres, ...opts });
    computes.push(c);
    return c;
  }

  function neonRequest(c: { pgPort: number }, spec: Record<string, unknown> = {}) {
    return {
      compute_ctl_config: { jwks: { keys: [] } },
      spec: {
        format_version: 1.0,
        suspend_timeout_seconds: -1,
        tenant_id: TENANT,
        timeline_id: TIMELINE,
        storage_auth_token: TOKEN,
        safekeepers_generation: 2,
        safekeeper_connstrings: safekeepers.map((sk) => sk.address),
        pageserver_connection_info: pageserver.connectionInfo(),
        cluster: {
          roles: [{ name: 'neondb_owner', encrypted_password: null, options: null }],
          databases: [{ name: 'neondb', owner: 'neondb_owner', options: null }],
          postgresql_conf: `listen_addresses='127.0.0.1'\nport=${c.pgPort}\nunix_socket_directories=''\nfsync=off\n`,
        },
        ...spec,
      },
    };
  }

  const syncCalls = () => readFileSync(syncLog, 'utf8').split('\n').filter(Boolean);

  test('Primary, safekeepers in sync: the quorum fast path, then the basebackup at that LSN', async () => {
    for (const sk of safekeepers) sk.status = { flush_lsn: backupLsn, commit_lsn: backupLsn };
    const c = await compute();
    const res = await c.api('/configure', postJson(neonRequest(c)));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.status, 'running');
    assert.equal(body.tenant, TENANT);
    assert.equal(body.timeline, TIMELINE);

    // Safekeepers: TIMELINE_STATUS with the timeline/tenant options and the token as password.
    for (const sk of safekeepers) {
      const q = sk.server.received.find((r) => r.sql === 'TIMELINE_STATUS');
      if (!q) continue; // a quorum (2 of 3) is enough
      assert.equal(q.session.params.options, `-c timeline_id=${TIMELINE} tenant_id=${TENANT}`);
      assert.equal(q.session.password, TOKEN);
    }
    assert.ok(safekeepers.filter((sk) => sk.server.received.length > 0).length >= 2);
    assert.deepEqual(syncCalls(), []);

    // Pageserver: the exact query text, application_name, compute mode option, token as password.
    assert.deepEqual(pageserver.queries('basebackup'), [`basebackup ${TENANT} ${TIMELINE} ${backupLsn} --gzip`]);
    const session = pageserver.server.received.at(-1)!.session;
    assert.equal(session.params.application_name, 'compute_ctl');
    assert.equal(session.params.options, '-c neon.compute_mode=primary');
    assert.equal(session.password, TOKEN);
    assert.equal(body.startup_metrics.basebackup_bytes, tarballBytes);
    assert.ok(body.startup_metrics.pageserver_connect_micros > 0);

    // PGDATA: our postgresql.conf with Neon's storage lines, neon.signal from zenith.signal.
    const conf = readFileSync(path.join(c.pgdata, 'postgresql.conf'), 'utf8');
    assert.match(conf, new RegExp(`neon\\.safekeepers='g#2:${safekeepers.map((s) => s.address).join(',')}'`));
    assert.match(conf, new RegExp(`neon\\.pageserver_connstring='${pageserver.url}'`));
    assert.equal(readFileSync(path.join(c.pgdata, 'neon.signal'), 'utf8'), 'PREV LSN: none\n');

    // Postgres got the token and serves SQL with the spec's roles.
    const pid = (await livePostmasterPid(c.pgdata))!;
    assert.ok(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`NEON_AUTH_TOKEN=${TOKEN}`));
    const db = new Client({ host: '127.0.0.1', port: c.pgPort, user: 'neondb_owner', database: 'neondb' });
    await db.connect();
    assert.equal((await db.query('SELECT current_user AS u')).rows[0].u, 'neondb_owner');
    await db.end();

    // Termination: a final sync-safekeepers, whose LSN /terminate returns.
    const term = await c.api('/terminate', { method: 'POST' });
    assert.deepEqual(await json(term), { lsn: '0/ABCDEF0' });
    const calls = syncCalls();
    assert.equal(calls.length, 1);
    assert.match(calls[0], new RegExp(`^args=--sync-safekeepers PGDATA=${c.pgdata} NEON_AUTH_TOKEN=${TOKEN} conf=1$`));
  });

  test('Primary, safekeepers disagree: postgres --sync-safekeepers decides the LSN', async () => {
    safekeepers[0].status = { flush_lsn: '0/3000000', commit_lsn: '0/2000000' };
    safekeepers[1].status = { flush_lsn: '0/3000000', commit_lsn: '0/3000000' };
    safekeepers[2].refuse = true;
    try {
      const before = syncCalls().length;
      const c = await compute();
      const res = await c.api('/configure', postJson(neonRequest(c)));
      assert.equal(res.status, 200, JSON.stringify(await json(res)));
      assert.equal(syncCalls().length, before + 1);
      assert.equal(pageserver.queries('basebackup').at(-1), `basebackup ${TENANT} ${TIMELINE} 0/ABCDEF0 --gzip`);
      await c.api('/terminate?mode=immediate', { method: 'POST' });
    } finally {
      safekeepers[2].refuse = false;
    }
  });

  test('safekeepers slower than the 100 ms TIMELINE_STATUS wait count as not answering: sync-safekeepers decides', async () => {
    for (const sk of safekeepers) {
      sk.status = { flush_lsn: backupLsn, commit_lsn: backupLsn };
      sk.delayMs = 400;
    }
    try {
      const before = syncCalls().length;
      const asked = safekeepers.map((sk) => sk.server.received.length);
      const c = await compute();
      const res = await c.api('/configure', postJson(neonRequest(c)));
      assert.equal(res.status, 200, JSON.stringify(await json(res)));
      assert.ok(safekeepers.every((sk, i) => sk.server.received.length > asked[i]), 'every safekeeper was asked');
      assert.equal(syncCalls().length, before + 1, 'in sync, but too slow: the fast path was not taken');
      assert.equal(pageserver.queries('basebackup').at(-1), `basebackup ${TENANT} ${TIMELINE} 0/ABCDEF0 --gzip`);
      await c.api('/terminate?mode=immediate', { method: 'POST' });
    } finally {
      for (const sk of safekeepers) sk.delayMs = 0;
    }
  });

  test('a spec naming a tenant the storage does not have: refused by the safekeepers and the pageserver, the start fails with its text', async () => {
    const other = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    for (const sk of safekeepers) sk.status = { flush_lsn: backupLsn, commit_lsn: backupLsn };
    const refusedBefore = safekeepers.map((sk) => sk.server.received.length);
    const c = await compute({ basebackupRetries: 0 });
    const res = await c.api('/configure', postJson(neonRequest(c, { tenant_id: other })));
    assert.equal(res.status, 500);
    const status = await json(await c.api('/status'));
    assert.equal(status.status, 'failed');
    assert.match(status.error, new RegExp(`Caused by:\\n    NotFound: tenant ${other}`));
    assert.ok(safekeepers.some((sk, i) => sk.server.received.length > refusedBefore[i]));
  });

  test('Static: the basebackup at its LSN with --replica, a hot standby, LSN leases renewed', async () => {
    pageserver.leaseLengthMs = 1_500; // renew every ~0.75 s
    const c = await compute({ leaseRoundsPerRun: 3 });
    const staticLsn = backupLsn;
    const res = await c.api('/configure', postJson(neonRequest(c, { mode: { Static: staticLsn }, safekeeper_connstrings: [] })));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.mode, 'static');
    assert.equal(pageserver.queries('basebackup').at(-1), `basebackup ${TENANT} ${TIMELINE} ${staticLsn} --gzip --replica`);
    assert.equal(pageserver.server.received.filter((r) => r.sql.startsWith('basebackup')).at(-1)!.session.params.options, '-c neon.compute_mode=static');
    assert.ok(existsSync(path.join(c.pgdata, 'standby.signal')));
    assert.match(readFileSync(path.join(c.pgdata, 'postgresql.conf'), 'utf8'), new RegExp(`hot_standby=on\nrecovery_target_lsn='${staticLsn}'`));
    const db = new Client({ connectionString: c.connstr });
    await db.connect();
    assert.equal((await db.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, true);
    await db.end();

    // Renewals: `lease lsn <tenant> <timeline> <lsn> ` (trailing space), again and again, across
    // continue-as-new (3 rounds per run).
    const renewals = await until('five lease renewals', async () => {
      const q = pageserver.queries('lease lsn');
      return q.length >= 5 ? q : undefined;
    }, 30_000);
    assert.ok(renewals.every((q) => q === `lease lsn ${TENANT} ${TIMELINE} ${staticLsn} `));
    const status = await json(await c.api('/status'));
    assert.equal(status.lsn_lease.status, 'held');
    assert.ok(Date.parse(status.lsn_lease.valid_until) > Date.now());
    const lease = c.worker.computes.client.workflow.getHandle(`compute-${c.computeId}-lease`);
    const runs: string[] = [];
    for await (const wfInfo of c.worker.computes.client.workflow.list({ query: `WorkflowId = '${lease.workflowId}'` })) runs.push(wfInfo.runId);
    assert.ok(runs.length >= 2, `continue-as-new happened (${runs.length} runs)`);
    const metrics = await (await c.api('/metrics')).text();
    assert.match(metrics, /^compute_ctl_lsn_lease_state\{state="held"\} 1$/m);

    // A long lease sleeps for minutes; /configure with new pageservers wakes it at once.
    pageserver.leaseLengthMs = 600_000;
    await until('a long lease', async () => ((await json(await c.api('/status'))).lsn_lease.valid_until > new Date(Date.now() + 300_000).toISOString() ? true : undefined));
    const moved = neonRequest(c, { mode: { Static: staticLsn }, safekeeper_connstrings: [], pageserver_connection_info: pageserver2.connectionInfo() });
    assert.equal((await c.api('/configure', postJson(moved))).status, 200);
    await until('a lease from the new pageserver', async () => (pageserver2.queries('lease lsn').length > 0 ? true : undefined), 10_000);

    // Errors back off and retry; the lease recovers when the pageserver does.
    pageserver.down = true;
    const back = neonRequest(c, { mode: { Static: staticLsn }, safekeeper_connstrings: [] });
    assert.equal((await c.api('/configure', postJson(back))).status, 200);
    const retrying = await until('retrying', async () => {
      const s = await json(await c.api('/status'));
      return s.lsn_lease.status === 'retrying' ? s : undefined;
    }, 10_000);
    assert.match(retrying.lsn_lease.error, /ECONNRESET|ECONNREFUSED|Connection terminated|closed/i);
    pageserver.down = false;
    pageserver.leaseLengthMs = 1_500;
    await until('held again', async () => ((await json(await c.api('/status'))).lsn_lease.status === 'held' ? true : undefined), 10_000);

    // A refusal stops the renewals for good; the compute keeps running.
    pageserver.leaseLengthMs = null;
    const refused = await until('the refusal', async () => {
      const s = await json(await c.api('/status'));
      return s.lsn_lease?.status === 'refused' ? s : undefined;
    }, 30_000);
    assert.equal(refused.lsn_lease.error, 'Permanent error: lease could not be obtained, LSN is behind the GC cutoff');
    assert.equal(refused.status, 'running');
    const count = pageserver.queries('lease lsn').length;
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(pageserver.queries('lease lsn').length, count);
    pageserver.leaseLengthMs = 600_000;
    await c.api('/terminate', { method: 'POST' });
    const id = `compute-${c.computeId}`;
    await recordHistories(c.worker.computes.client, 'static-lease', [id, `${id}-startup-1`, `${id}-lease`]);
  });

  test('refresh_configuration (§10): the config file read again; same pageservers change nothing, new ones reconfigure and move the lease', async () => {
    pageserver.leaseLengthMs = 600_000; // a lease that sleeps for minutes unless woken
    const configPath = path.join(stack.tmp, `refresh-${process.pid}.json`);
    const pgPort = await freePort();
    const request = (ps: PageserverFixture) => neonRequest({ pgPort }, { mode: { Static: backupLsn }, safekeeper_connstrings: [], pageserver_connection_info: ps.connectionInfo() });
    writeFileSync(configPath, JSON.stringify(request(pageserver)));
    const r = await startCompute(stack, { postgres: neonPostgres, configPath, pgPort });
    computes.push(r);
    await until('running', async () => ((await json(await r.api('/status'))).status === 'running' ? true : undefined));
    await until('a lease', async () => ((await json(await r.api('/status'))).lsn_lease?.status === 'held' ? true : undefined), 10_000);
    const refresh = () => fetch(`${r.worker.internalUrl}/refresh_configuration`, { method: 'POST' });
    const reconfigure = r.worker.computes.client.workflow.getHandle(`compute-${r.computeId}-reconfigure-1`);

    // Counted from here: an earlier test leased from pageserver2 too.
    const leasesOn2 = () => pageserver2.queries('lease lsn').length;
    const before2 = leasesOn2();
    const same = await refresh();
    assert.equal(same.status, 200);
    assert.equal(await same.text(), '');
    await until('back to running', async () => ((await json(await r.api('/status'))).status === 'running' ? true : undefined));
    await assert.rejects(reconfigure.describe(), 'no reconfiguration for the same pageservers');
    assert.equal(leasesOn2(), before2);

    writeFileSync(configPath, JSON.stringify(request(pageserver2)));
    assert.equal((await refresh()).status, 200);
    await until('reconfigured', async () => ((await reconfigure.describe()).status.name === 'COMPLETED' ? true : undefined), 30_000);
    await until('a lease from the new pageserver', async () => (leasesOn2() > before2 ? true : undefined), 10_000);
    // The lifecycle reports running once it has taken the child's result, a moment after the child closes.
    await until('running again', async () => ((await json(await r.api('/status'))).status === 'running' ? true : undefined));
    assert.match(await (await r.api('/metrics')).text(), /^pg_cctl_pagestream_request_errors_total 2$/m);
    await r.api('/terminate', { method: 'POST' });
    const id = `compute-${r.computeId}`;
    await recordHistories(r.worker.computes.client, 'refresh', [id, `${id}-startup-1`, `${id}-reconfigure-1`]);
  });

  test('Replica: the latest basebackup with --replica, no safekeepers, no lease', async () => {
    const c = await compute();
    const res = await c.api('/configure', postJson(neonRequest(c, { mode: 'Replica', safekeeper_connstrings: [] })));
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
    assert.equal(pageserver.queries('basebackup').at(-1), `basebackup ${TENANT} ${TIMELINE} --gzip --replica`);
    assert.ok(existsSync(path.join(c.pgdata, 'standby.signal')));
    assert.equal((await json(await c.api('/status'))).lsn_lease, null);
    assert.deepEqual(await json(await c.api('/terminate', { method: 'POST' })), { lsn: null });
  });

  test('/promote of a Replica: caught up with the flush LSN, told its safekeepers, promoted, a writable Primary', async () => {
    const c = await compute();
    const res = await c.api('/configure', postJson(neonRequest(c, { mode: 'Replica', safekeeper_connstrings: [] })));
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
    const db = new Client({ connectionString: c.connstr });
    await db.connect();
    const replayed = (await db.query('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0].lsn as string;
    await db.end();
    const primary = neonRequest(c).spec;
    const promoted = await c.api('/promote', postJson({ spec: primary, wal_flush_lsn: replayed }));
    assert.deepEqual(await json(promoted), { status: 'completed' });
    assert.equal(promoted.status, 200);
    const after = new Client({ connectionString: c.connstr });
    await after.connect();
    try {
      assert.equal((await after.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, false);
      // As the Primary spec renders it (with its safekeepers generation).
      assert.equal((await after.query('SHOW neon.safekeepers')).rows[0]['neon.safekeepers'], `g#2:${safekeepers.map((sk) => sk.address).join(',')}`);
      await after.query('CREATE TABLE promoted (x int)');
    } finally {
      await after.end();
    }
    assert.equal((await json(await c.api('/status'))).mode, 'primary');
    assert.equal(existsSync(path.join(c.pgdata, 'standby.signal')), false);
    await c.api('/terminate', { method: 'POST' });
  });

  test('sync-safekeepers failing: retried, then the start fails with its exit status and stdout', async () => {
    safekeepers[0].status = null; // timeline unknown: no fast path
    process.env.FIXTURE_SYNC_SK_FAIL = '3';
    const before = syncCalls().length;
    try {
      const c = await compute();
      const res = await c.api('/configure', postJson(neonRequest(c)));
      assert.equal(res.status, 500);
      const status = await json(await c.api('/status'));
      assert.equal(
        status.error,
        'failed to sync safekeepers\n\nCaused by:\n    postgres --sync-safekeepers exited with non-zero status: exit status: 3. stdout: no quorum',
      );
      assert.equal(syncCalls().length - before, 6); // 1 attempt + 5 retries (§4.4)
    } finally {
      delete process.env.FIXTURE_SYNC_SK_FAIL;
    }
  });

  test('a basebackup fault fails the start with the server\'s text in /status.error', async () => {
    for (const sk of safekeepers) sk.status = { flush_lsn: backupLsn, commit_lsn: backupLsn };
    pageserver.basebackupFault = { kind: 'error-after', message: 'could not read layer file: injected fault' };
    try {
      const before = pageserver.queries('basebackup').length;
      const c = await compute({ basebackupRetries: 1 });
      const res = await c.api('/configure', postJson(neonRequest(c)));
      assert.equal(res.status, 500);
      const status = await json(await c.api('/status'));
      assert.equal(status.status, 'failed');
      assert.match(status.error, new RegExp(`^failed to get basebackup@${backupLsn}\\n\\nCaused by:\\n    could not read layer file: injected fault`));
      // Counted from this test's start: the first attempt and exactly the one retry the override allows.
      assert.equal(pageserver.queries('basebackup').length - before, 2);
    } finally {
      pageserver.basebackupFault = null;
    }
  });

  test('a connection dropped mid-stream is retried and the start succeeds', async () => {
    let drops = 1;
    const original = pageserver.basebackupFault;
    pageserver.basebackupFault = { kind: 'drop' };
    const before = pageserver.queries('basebackup').length;
    const c = await compute({ basebackupRetries: 2 });
    // Heal the pageserver after the first (dropped) attempt.
    const heal = until('the first attempt', async () => (pageserver.queries('basebackup').length > before ? true : undefined), 20_000).then(() => {
      drops--;
      pageserver.basebackupFault = original;
    });
    const res = await c.api('/configure', postJson(neonRequest(c)));
    await heal;
    assert.equal(drops, 0);
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
    assert.ok(pageserver.queries('basebackup').length - before >= 2);
    await c.api('/terminate?mode=immediate', { method: 'POST' });
  });

  test('SIGTERM to the worker during sync-safekeepers: the sync-safekeepers child gets SIGTERM, the worker exits 1 (§9)', async () => {
    for (const sk of safekeepers) sk.refuse = true; // no quorum: sync-safekeepers decides
    try {
      const slot = await computeSlot(stack, `sk-term-${process.pid}`);
      const configPath = path.join(stack.tmp, `sk-term-${process.pid}.json`);
      writeFileSync(configPath, JSON.stringify(neonRequest(slot)));
      const before = syncCalls().length;
      const w = spawnWorker(stack, slot, { args: ['-c', configPath, '-b', neonPostgres], env: { FIXTURE_SYNC_SK_HANG: '1' } });
      await until('sync-safekeepers running', async () => (syncCalls().length > before ? true : undefined));
      w.proc.kill('SIGTERM');
      assert.equal((await w.exited).code, 1);
      await until('the child got SIGTERM', async () => (readFileSync(syncLog, 'utf8').includes('sync-safekeepers got SIGTERM') ? true : undefined), 10_000);
    } finally {
      for (const sk of safekeepers) sk.refuse = false;
    }
  });
});
