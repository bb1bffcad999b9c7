// Catalog reconciliation (§5) and live reconfiguration against real PostgreSQL, with hostile names.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Client } from 'pg';
import { configurationRequest, json, postJson, startCompute, until, useCompute, type Stack } from '../support/stack';
import { scramVerifier } from '../support/scram';

const HOSTILE = [
  'with space',
  'tab\there',
  `both "double" and 'single'`,
  'dollar$$sign',
  'tag$x$inside',
  '🐘 elephant',
  'percent%s%d',
  'semi"; DROP ROLE cloud_admin; --',
  "quote'); DROP DATABASE postgres; --",
  'a'.repeat(63),
  `${'é'.repeat(31)}z`, // 63 bytes, 32 characters
];
const PASSWORD = 'hostile-pw';
const verifier = scramVerifier(PASSWORD);

/** A renamed name that still fits in 63 bytes. */
function renamed(name: string): string {
  const suffix = '_2';
  let base = name;
  while (Buffer.byteLength(base + suffix) > 63) base = [...base].slice(0, -1).join('');
  return base + suffix;
}

const SETTINGS = [
  { name: 'shared_preload_libraries', value: 'pg_stat_statements', vartype: 'string' },
  { name: 'pg_stat_statements.track', value: 'all', vartype: 'enum' },
  { name: 'pg_stat_statements.track_utility', value: 'on', vartype: 'bool' },
  { name: 'work_mem', value: '4MB', vartype: 'string' },
];

async function withClient<T>(connstr: string | object, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client(connstr as never);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}


describe('catalog reconciliation and reconfiguration', () => {
  const t = useCompute({ name: 'catalog', children: ['startup-1', 'reconfigure-1'] });
  let roles: { name: string; encrypted_password: string | null; options: null }[] = [];
  let databases: { name: string; owner: string; options: null }[] = [];
  const request = (extra: Record<string, unknown> = {}, settings = SETTINGS) =>
    configurationRequest(t.stack, t.compute.pgPort, { roles, databases, settings }, extra);
  const configure = async (body: unknown) => {
    const res = await t.compute.api('/configure', postJson(body));
    return { status: res.status, body: await json(res) };
  };
  const admin = () => t.compute.connstr;
  /** Superuser connection config for a database of the compute (any name). */
  const adminAt = (database: string) => ({ host: '127.0.0.1', port: t.compute.pgPort, user: 'cloud_admin', database });

  test('hostile role and database names are created and connectable', async () => {
    roles = [
      { name: 'app_owner', encrypted_password: verifier, options: null },
      ...HOSTILE.map((name) => ({ name, encrypted_password: verifier, options: null })),
    ];
    databases = [{ name: 'app', owner: 'app_owner', options: null }, ...HOSTILE.map((name) => ({ name, owner: name, options: null }))];
    const { status, body } = await configure(request());
    assert.equal(status, 200, JSON.stringify(body));
    for (const name of HOSTILE) {
      await withClient({ host: '127.0.0.1', port: t.compute.pgPort, user: name, password: PASSWORD, database: name }, async (c) => {
        const { rows } = await c.query('SELECT current_user AS u, current_database() AS d');
        assert.deepEqual(rows[0], { u: name, d: name });
      });
    }
  });

  test('/dbs_and_roles lists them, with owners and without password hashes', async () => {
    const res = await t.compute.api('/dbs_and_roles');
    assert.equal(res.status, 200);
    const text = await res.clone().text();
    assert.doesNotMatch(text, /SCRAM-SHA-256/);
    const body = await json(res);
    const roleNames = body.roles.map((r: { name: string }) => r.name);
    for (const name of [...HOSTILE, 'app_owner', 'neon_superuser', 'cloud_admin']) assert.ok(roleNames.includes(name), `role ${name} listed`);
    for (const name of HOSTILE) {
      assert.deepEqual(body.databases.find((d: { name: string }) => d.name === name), { name, owner: name, options: null, restrict_conn: false, invalid: false });
    }
  });

  test('the privileged role has its attributes; the background migrations ran', async () => {
    await withClient(admin(), async (c) => {
      const attrs = await c.query("SELECT rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = 'neon_superuser'");
      assert.deepEqual(attrs.rows[0], { rolcreatedb: true, rolcreaterole: true, rolcanlogin: false, rolreplication: true, rolbypassrls: true });
      const id = await until('migrations', async () => {
        const r = await c.query('SELECT id FROM neon_migration.migration_id WHERE key = 0');
        return Number(r.rows[0]?.id) === 12 ? 12 : undefined;
      });
      assert.equal(id, 12);
      const members = await c.query(
        `SELECT r.rolname, m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
          WHERE m.member = 'neon_superuser'::regrole ORDER BY 1`,
      );
      assert.deepEqual(members.rows, [
        { rolname: 'pg_monitor', admin_option: true },
        { rolname: 'pg_read_all_data', admin_option: false },
        { rolname: 'pg_signal_backend', admin_option: true },
        { rolname: 'pg_write_all_data', admin_option: false },
      ]);
    });
  });

  test('re-applying an unchanged spec issues no DDL (pg_stat_statements, nested statements included)', async () => {
    await withClient(admin(), (c) => c.query('SELECT pg_stat_statements_reset()'));
    const { status } = await configure(request());
    assert.equal(status, 200);
    const ddl = await withClient(admin(), async (c) => {
      const { rows } = await c.query(
        `SELECT query FROM pg_stat_statements
          WHERE query ~* '^\\s*(CREATE|ALTER|DROP|GRANT|REVOKE|REASSIGN|DO|COMMENT|SECURITY)\\M'`,
      );
      return rows.map((r) => r.query);
    });
    assert.deepEqual(ddl, []);
    // …and the check itself sees DDL when there is some:
    await withClient(admin(), (c) => c.query('SELECT pg_stat_statements_reset()'));
    roles = [...roles, { name: 'one_more', encrypted_password: null, options: null }];
    assert.equal((await configure(request())).status, 200);
    const seen = await withClient(admin(), async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_stat_statements WHERE query ~* '^\\s*CREATE ROLE'")).rows[0].n);
    assert.ok(seen >= 1);
  });

  test('the same spec again puts back a password and an owner changed by hand, and their database is checked again', async () => {
    await withClient(admin(), (c) =>
      c.query("ALTER ROLE app_owner PASSWORD 'changed by hand'; CREATE ROLE intruder; ALTER DATABASE app OWNER TO intruder"),
    );
    await withClient(adminAt('app'), (c) => c.query('ALTER SCHEMA public OWNER TO cloud_admin'));
    assert.equal((await configure(request())).status, 200);
    await withClient(admin(), async (c) => {
      const role = await c.query("SELECT rolpassword = $1 AS same FROM pg_authid WHERE rolname = 'app_owner'", [verifier]);
      assert.equal(role.rows[0].same, true);
      const db = await c.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'app'");
      assert.equal(db.rows[0].owner, 'app_owner');
    });
    // The owner had changed, so the database was visited again: its public schema is its owner's.
    await withClient(adminAt('app'), async (c) => {
      const { rows } = await c.query("SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'public'");
      assert.equal(rows[0].owner, 'app_owner');
    });
  });

  test('/insights: the slowest statements of users other than cloud_admin, as Neon encodes them (a JSON string)', async () => {
    await withClient({ host: '127.0.0.1', port: t.compute.pgPort, user: 'app_owner', password: PASSWORD, database: 'app' }, (c) => c.query('SELECT 42 AS answer'));
    const res = await t.compute.api('/insights');
    assert.equal(res.status, 200);
    const text = await json(res);
    assert.equal(typeof text, 'string');
    const { pg_stat_statements: rows } = JSON.parse(text);
    assert.ok(Array.isArray(rows) && rows.length > 0 && rows.length <= 100);
    const cloudAdmin = await withClient(admin(), async (c) => Number((await c.query("SELECT 'cloud_admin'::regrole::oid AS o")).rows[0].o));
    for (const row of rows) {
      assert.notEqual(row.userid, cloudAdmin);
      assert.equal(typeof row.query, 'string');
    }
    assert.ok(rows.some((r: { query: string }) => r.query.includes('SELECT $1 AS answer')));
  });

  test('a role holding grants given by another role is deleted cleanly', async () => {
    await withClient(admin(), async (c) => {
      await c.query('CREATE ROLE middleman; CREATE ROLE holder');
    });
    await withClient({ connectionString: admin().replace(/\/postgres$/, '/app') }, async (c) => {
      await c.query(`CREATE TABLE public.secrets (id int);
        GRANT SELECT ON public.secrets TO middleman WITH GRANT OPTION;
        SET ROLE middleman; GRANT SELECT ON public.secrets TO holder; RESET ROLE;
        CREATE TABLE public.owned_by_holder (id int); ALTER TABLE public.owned_by_holder OWNER TO holder`);
    });
    const { status, body } = await configure(request({ delta_operations: [{ action: 'delete_role', name: 'holder' }] }));
    assert.equal(status, 200, JSON.stringify(body));
    await withClient({ connectionString: admin().replace(/\/postgres$/, '/app') }, async (c) => {
      assert.equal((await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'holder'")).rowCount, 0);
      assert.equal((await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'middleman'")).rowCount, 1);
      const owner = await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 'owned_by_holder'");
      assert.deepEqual(owner.rows, [{ tableowner: 'app_owner' }]); // reassigned to the database owner
    });
  });

  test("a first start creates its databases in parallel (as many at once as §5.7's concurrency allows)", async () => {
    const c = await startCompute(t.stack);
    try {
      const many = Array.from({ length: 16 }, (_, i) => ({ name: `par_${i}`, owner: 'par_owner', options: null }));
      const watching = { max: 0, stop: false };
      // Sample the compute's sessions while it starts: CREATE DATABASE statements running at once.
      const watcher = (async () => {
        while (!watching.stop) {
          const n = await withClient({ host: '127.0.0.1', port: c.pgPort, user: 'cloud_admin', database: 'postgres' }, async (db) =>
            Number((await db.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query ILIKE 'CREATE DATABASE%' AND state = 'active'")).rows[0].n),
          ).catch(() => 0);
          watching.max = Math.max(watching.max, n);
          await new Promise((r) => setImmediate(r)); // a sampling loop, not a busy one
        }
      })();
      const res = await c.api('/configure', postJson(configurationRequest(t.stack, c.pgPort, { roles: [{ name: 'par_owner', encrypted_password: null, options: null }], databases: many, settings: [{ name: 'max_connections', value: '100', vartype: 'integer' }] })));
      watching.stop = true;
      await watcher;
      assert.equal(res.status, 200, JSON.stringify(await json(res)));
      assert.ok(watching.max >= 2, `at most ${watching.max} CREATE DATABASE at once`);
    } finally {
      await c.stop();
    }
  });

  test('an md5 role logs in with its password; a new hash in the spec replaces it', async () => {
    const md5 = (password: string, user: string) => createHash('md5').update(`${password}${user}`).digest('hex');
    const login = (password: string) =>
      withClient({ host: '127.0.0.1', port: t.compute.pgPort, user: 'md5_user', password, database: 'app' }, (c) => c.query('SELECT 1'));
    // A compute trusts loopback connections (Neon's sample pg_hba: the pod's own clients); users come
    // from outside, through the md5 line. For this role, loopback goes through md5 too.
    const hba = path.join(t.compute.pgdata, 'pg_hba.conf');
    await writeFile(hba, `host all md5_user 127.0.0.1/32 md5\n${await readFile(hba, 'utf8')}`);
    await withClient(admin(), (c) => c.query('SELECT pg_reload_conf()'));
    roles = [...roles.filter((r) => r.name !== 'md5_user'), { name: 'md5_user', encrypted_password: md5('first-pw', 'md5_user'), options: null }];
    assert.equal((await configure(request())).status, 200);
    await withClient(admin(), async (c) =>
      assert.equal((await c.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'md5_user'")).rows[0].rolpassword, `md5${md5('first-pw', 'md5_user')}`),
    );
    await login('first-pw');
    await assert.rejects(login('wrong-pw'), (err: { code?: string }) => err.code === '28P01');
    roles = roles.map((r) => (r.name === 'md5_user' ? { ...r, encrypted_password: md5('second-pw', 'md5_user') } : r));
    assert.equal((await configure(request())).status, 200);
    await login('second-pw');
    await assert.rejects(login('first-pw'), (err: { code?: string }) => err.code === '28P01');
  });

  test('a deleted role loses its grants in every schema, not only public', async () => {
    await withClient(admin(), (c) => c.query('CREATE ROLE elsewhere'));
    await withClient({ connectionString: admin().replace(/\/postgres$/, '/app') }, (c) =>
      c.query(`CREATE SCHEMA other; CREATE TABLE other.t (id int);
        GRANT USAGE, CREATE ON SCHEMA other TO elsewhere; GRANT SELECT, UPDATE ON other.t TO elsewhere;
        ALTER DEFAULT PRIVILEGES IN SCHEMA other GRANT SELECT ON TABLES TO elsewhere`),
    );
    const { status, body } = await configure(request({ delta_operations: [{ action: 'delete_role', name: 'elsewhere' }] }));
    assert.equal(status, 200, JSON.stringify(body));
    await withClient(admin(), async (c) => assert.equal((await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'elsewhere'")).rowCount, 0));
    await withClient({ connectionString: admin().replace(/\/postgres$/, '/app') }, async (c) => {
      const acl = await c.query("SELECT nspacl::text AS a FROM pg_namespace WHERE nspname = 'other'");
      assert.doesNotMatch(acl.rows[0].a ?? '', /elsewhere/);
    });
  });

  test('a database whose settings would trap compute-ctl still reconfigures', async () => {
    await withClient(admin(), (c) => c.query('CREATE ROLE trapper'));
    await withClient({ connectionString: admin().replace(/\/postgres$/, '/app') }, (c) =>
      c.query('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM neon_superuser'),
    );
    await withClient(admin(), (c) =>
      c.query(`ALTER DATABASE app SET role = 'trapper';
        ALTER DATABASE app SET default_transaction_read_only = on;
        ALTER DATABASE app SET search_path = 'nowhere';
        ALTER DATABASE app SET statement_timeout = '1ms'`),
    );
    const { status, body } = await configure(request());
    assert.equal(status, 200, JSON.stringify(body));
    // The per-database phase ran in `app` and restored the default privileges it needed to.
    await withClient({ connectionString: admin().replace(/\/postgres$/, '/app'), options: '-c role=cloud_admin -c statement_timeout=0' }, async (c) => {
      const { rows } = await c.query(
        `SELECT count(*)::int AS n FROM pg_default_acl d, aclexplode(d.defaclacl) a
          WHERE d.defaclobjtype = 'r' AND a.grantee = 'neon_superuser'::regrole AND a.is_grantable`,
      );
      assert.equal(rows[0].n, 7);
    });
  });

  test('renames (rename_role, rename_db) of hostile names', async () => {
    const ops = HOSTILE.flatMap((name) => [
      { action: 'rename_role', name, new_name: renamed(name) },
      { action: 'rename_db', name, new_name: renamed(name) },
    ]);
    roles = roles.map((r) => (HOSTILE.includes(r.name) ? { ...r, name: renamed(r.name) } : r));
    databases = databases.map((d) => (HOSTILE.includes(d.name) ? { ...d, name: renamed(d.name), owner: renamed(d.owner) } : d));
    const { status, body } = await configure(request({ delta_operations: ops }));
    assert.equal(status, 200, JSON.stringify(body));
    const listed = await json(await t.compute.api('/dbs_and_roles'));
    for (const name of HOSTILE) {
      assert.ok(!listed.roles.some((r: { name: string }) => r.name === name), `old role ${name} gone`);
      assert.ok(listed.databases.some((d: { name: string; owner: string }) => d.name === renamed(name) && d.owner === renamed(name)), `db ${renamed(name)}`);
      await withClient({ host: '127.0.0.1', port: t.compute.pgPort, user: renamed(name), password: PASSWORD, database: renamed(name) }, (c) => c.query('SELECT 1'));
    }
  });

  test('deletes (delete_db, delete_role) of hostile names, subscriptions dropped first', async () => {
    const names = HOSTILE.map(renamed);
    // A database holding a subscription cannot be dropped until the subscription is gone.
    await withClient({ ...adminAt(names[0]) }, (c) =>
      c.query("CREATE SUBSCRIPTION held CONNECTION 'host=127.0.0.1 port=1 dbname=none' PUBLICATION p WITH (connect = false)"),
    );
    const ops = names.flatMap((name) => [{ action: 'delete_db', name }, { action: 'delete_role', name }]);
    roles = roles.filter((r) => !names.includes(r.name));
    databases = databases.filter((d) => !names.includes(d.name));
    const { status, body } = await configure(request({ delta_operations: ops }));
    assert.equal(status, 200, JSON.stringify(body));
    const listed = await json(await t.compute.api('/dbs_and_roles'));
    for (const name of names) {
      assert.ok(!listed.roles.some((r: { name: string }) => r.name === name), `role ${name} deleted`);
      assert.ok(!listed.databases.some((d: { name: string }) => d.name === name), `db ${name} deleted`);
    }
    // The same delta operations again are a no-op, not an error.
    assert.equal((await configure(request({ delta_operations: ops }))).status, 200);
  });

  test('an invalid database (interrupted DROP DATABASE) is dropped', async () => {
    await withClient(admin(), async (c) => {
      await c.query('CREATE DATABASE half_dropped');
      await c.query("UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'half_dropped'");
    });
    assert.equal((await configure(request())).status, 200);
    await withClient(admin(), async (c) => assert.equal((await c.query("SELECT 1 FROM pg_database WHERE datname = 'half_dropped'")).rowCount, 0));
  });

  test('skip_pg_catalog_updates leaves the catalog alone', async () => {
    const skipped = configurationRequest(t.stack, t.compute.pgPort, { roles: [...roles, { name: 'not_created', encrypted_password: null, options: null }], databases, settings: SETTINGS }, { skip_pg_catalog_updates: true });
    assert.equal((await configure(skipped)).status, 200);
    await withClient(admin(), async (c) => assert.equal((await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'not_created'")).rowCount, 0));
  });

  test('settings: reloadable ones apply, restart-only ones are listed in pending_restart', async () => {
    const settings = [...SETTINGS.filter((s) => s.name !== 'work_mem'), { name: 'work_mem', value: '8MB', vartype: 'string' }, { name: 'max_wal_senders', value: '7', vartype: 'integer' }];
    const { status, body } = await configure(request({}, settings));
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.pending_restart, ['max_wal_senders']);
    assert.deepEqual((await json(await t.compute.api('/status'))).pending_restart, ['max_wal_senders']);
    await withClient(admin(), async (c) => assert.equal((await c.query('SHOW work_mem')).rows[0].work_mem, '8MB'));
  });

  test('a failed reconfiguration: status failed with the error, Postgres keeps running', async () => {
    const bad = configurationRequest(t.stack, t.compute.pgPort, { roles, databases: [...databases, { name: 'orphan', owner: 'nobody', options: null }], settings: SETTINGS });
    const { status, body } = await configure(bad);
    assert.equal(status, 500);
    assert.match(body.error, /^compute configuration failed: .*role \\"nobody\\" does not exist/);
    const s = await json(await t.compute.api('/status'));
    assert.equal(s.status, 'failed');
    assert.match(s.error, /role "nobody" does not exist \(while running: CREATE DATABASE "orphan" OWNER "nobody"\)/);
    await withClient(admin(), async (c) => assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1));
  });
});

describe('a migration that fails', () => {
  const t = useCompute();

  test('is counted in compute_ctl_db_migration_failed_total and does not fail the start', async () => {
    // The compute is a copy of the upstream: prepare the upstream so migration 4 cannot record itself.
    await withClient((t.stack as Stack).upstream.connstring, (c) =>
      c.query(`CREATE SCHEMA neon_migration;
        CREATE TABLE neon_migration.migration_id (key int4 NOT NULL PRIMARY KEY, id int8 NOT NULL DEFAULT 0);
        INSERT INTO neon_migration.migration_id VALUES (0, 0);
        CREATE FUNCTION neon_migration.refuse() RETURNS trigger LANGUAGE plpgsql AS
          $f$ BEGIN IF NEW.id = 4 THEN RAISE EXCEPTION 'migration 4 refused by test'; END IF; RETURN NEW; END $f$;
        CREATE TRIGGER refuse BEFORE UPDATE ON neon_migration.migration_id FOR EACH ROW EXECUTE FUNCTION neon_migration.refuse()`),
    );
    const res = await t.compute.api('/configure', postJson(configurationRequest(t.stack, t.compute.pgPort)));
    assert.equal(res.status, 200);
    const metrics = await until('the failure metric', async () => {
      const text = await (await t.compute.api('/metrics')).text();
      return /compute_ctl_db_migration_failed_total\{migration_id="4"\} 1/.test(text) ? text : undefined;
    });
    assert.match(metrics, /compute_ctl_db_migration_failed_total\{migration_id="4"\} 1/);
    await withClient(t.compute.connstr, async (c) => {
      assert.equal(Number((await c.query('SELECT id FROM neon_migration.migration_id')).rows[0].id), 3);
    });
    assert.equal((await json(await t.compute.api('/status'))).status, 'running');
  });
});
