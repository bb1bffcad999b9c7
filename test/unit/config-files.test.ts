import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { withPgbouncerSettings } from '../../src/postgres/pgbouncer';
import { tlsProblem } from '../../src/postgres/tls';
import { parseComputeSpec } from '../../src/compute-spec/parse';
import { confQuote, ensureMd5Line, PG_HBA_MD5_LINE, renderPgHba, renderPostgresqlConf, renderSetting } from '../../src/postgres/config-files';

const spec = () => JSON.parse(readFileSync(path.join(__dirname, '../../../test/fixtures/neon-attached-config.json'), 'utf8')).spec;
const opts = { internalHttpPort: 3081, privilegedRoleName: 'neon_superuser', pgMajor: 15, neonLibrary: true };

describe('postgresql.conf rendering', () => {
  test('the reference example renders in §4.3 order', () => {
    const conf = renderPostgresqlConf(parseComputeSpec(spec()), opts);
    assert.equal(
      conf,
      [
        "listen_addresses='*'",
        'port=5432',
        "shared_preload_libraries='neon'",
        "synchronous_standby_names='walproposer'",
        '# Neon storage settings',
        '',
        '# pageserver of every shard, in shard order',
        "neon.pageserver_connstring='postgres://no_user@ps-1:6400'",
        "neon.safekeepers='g#1:sk-1:5454,sk-2:5454,sk-3:5454'",
        "neon.tenant_id='b0554b632bd4d547a63b86c3630317e8'",
        "neon.timeline_id='2414a61ffc94e428f14b5758fe308e13'",
        "neon.project_id='proj-1'",
        "neon.branch_id='br-1'",
        "neon.endpoint_id='ep-1'",
        "lc_messages='C.UTF-8'",
        "lc_monetary='C.UTF-8'",
        "lc_time='C.UTF-8'",
        "lc_numeric='C.UTF-8'",
        'neon.compute_mode=primary',
        "neon.privileged_role_name='neon_superuser'",
        '# Managed by compute_ctl: begin',
        'max_connections = 112',
        "neon.some_string = 'it''s a \\\\ test'",
        '# Managed by compute_ctl: end',
        'neon.extension_server_port=3081',
        'neon.disable_logical_replication_subscribers=false',
        "include_if_exists = 'compute_ctl_temp_override.conf'",
        '',
      ].join('\n'),
    );
  });

  test('Static and Replica add hot_standby (and the recovery target)', () => {
    const s = spec();
    s.mode = { Static: '0/169AD58' };
    const staticConf = renderPostgresqlConf(parseComputeSpec(s), opts);
    assert.match(staticConf, /neon\.compute_mode=static\nhot_standby=on\nrecovery_target_lsn='0\/169AD58'\n/);
    s.mode = 'Replica';
    assert.match(renderPostgresqlConf(parseComputeSpec(s), opts), /neon\.compute_mode=replica\nhot_standby=on\n/);
  });

  test('sharded pageservers: stripe size and one URL per shard; a missing shard is named', () => {
    const s = spec();
    s.pageserver_connection_info = {
      shard_count: 2,
      stripe_size: 2048,
      shards: { '0002': { pageservers: [{ libpq_url: 'postgres://a:1' }] }, '0102': { pageservers: [{ libpq_url: 'postgres://b:1' }] } },
    };
    const conf = renderPostgresqlConf(parseComputeSpec(s), opts);
    assert.match(conf, /neon\.stripe_size=2048\n# pageserver of every shard, in shard order\nneon\.pageserver_connstring='postgres:\/\/a:1,postgres:\/\/b:1'\n/);
    delete s.pageserver_connection_info.shards['0102'];
    assert.match(renderPostgresqlConf(parseComputeSpec(s), opts), /# no neon\.pageserver_connstring\n/);
  });

  test('postgres storage: no Neon lines; standbys stream from the upstream', () => {
    const base = {
      format_version: 1,
      suspend_timeout_seconds: -1,
      storage: { type: 'postgres', connstring: "postgresql://u@h:5/db?application_name=it's" },
      cluster: { roles: [], databases: [] },
    };
    const primary = renderPostgresqlConf(parseComputeSpec(base), opts);
    assert.doesNotMatch(primary, /neon\.(safekeepers|pageserver_connstring|tenant_id)|primary_conninfo/);
    assert.doesNotMatch(primary, /# Managed by compute_ctl: begin/); // settings absent ⇒ no block
    const replica = renderPostgresqlConf(parseComputeSpec({ ...base, mode: 'Replica' }), opts);
    assert.match(replica, /primary_conninfo='postgresql:\/\/u@h:5\/db\?application_name=it''s'\n/);
  });

  test('audit levels extend shared_preload_libraries', () => {
    const s = spec();
    s.audit_log_level = 'Log';
    assert.match(renderPostgresqlConf(parseComputeSpec(s), opts), /shared_preload_libraries='neon,pgaudit'/);
    // A vanilla server has no neon library: naming it would keep Postgres from starting.
    assert.match(renderPostgresqlConf(parseComputeSpec(s), { ...opts, neonLibrary: false }), /shared_preload_libraries='pgaudit'\n/);
    s.audit_log_level = 'Full';
    s.cluster.settings.push({ name: 'shared_preload_libraries', value: 'neon,pg_stat_statements', vartype: 'string' });
    const full = renderPostgresqlConf(parseComputeSpec(s), opts);
    assert.match(full, /pgaudit\.log_parameter=on\npgaudit\.log='all'\n/);
    assert.match(full, /shared_preload_libraries='neon,pg_stat_statements,pgaudit,pgauditlogtofile'/);
  });

  test('overcommit_memory 2 switches dynamic shared memory to mmap; the last line is the include', () => {
    const conf = renderPostgresqlConf(parseComputeSpec(spec()), { ...opts, overcommitMemory: '2\n' });
    assert.match(conf, /dynamic_shared_memory_type = mmap\n/);
    assert.ok(conf.endsWith("include_if_exists = 'compute_ctl_temp_override.conf'\n"));
  });

  test('settings: strings quoted, other vartypes raw, null value bare', () => {
    assert.equal(renderSetting({ name: 'a', value: "x'y\\z", vartype: 'string' }), "a = 'x''y\\\\z'");
    assert.equal(renderSetting({ name: 'b', value: '10', vartype: 'integer' }), 'b = 10');
    assert.equal(renderSetting({ name: 'c', value: null, vartype: 'bool' }), 'c');
    assert.equal(confQuote("'"), "''''");
  });

  test('pg_hba: the md5 line is appended once', () => {
    assert.ok(renderPgHba().includes(PG_HBA_MD5_LINE));
    assert.equal(ensureMd5Line(renderPgHba()), renderPgHba());
    assert.equal(ensureMd5Line('local all all trust'), `local all all trust\n${PG_HBA_MD5_LINE}\n`);
  });
});

describe('postgresql.conf follows the server version', () => {
  const parsed = parseComputeSpec({ format_version: 1, suspend_timeout_seconds: -1, storage: { type: 'postgres', connstring: 'postgresql://u@h/db' }, cluster: { roles: [], databases: [] } });
  test('16 and 17 get createrole_self_grant (14 and 15 do not know it and would refuse to start)', () => {
    for (const pgMajor of [14, 15]) assert.doesNotMatch(renderPostgresqlConf(parsed, { ...opts, pgMajor }), /createrole_self_grant/);
    for (const pgMajor of [16, 17]) assert.match(renderPostgresqlConf(parsed, { ...opts, pgMajor }), /^createrole_self_grant = 'set, inherit'$/m);
  });

  test("pgbouncer_settings edit the ini's [pgbouncer] section in place and keep the rest", () => {
    const ini = '[databases]\n* = host=x\n\n[pgbouncer]\n; note\nDefault_Pool_Size = 20\nlisten_port = 6432\n\n[users]\nu = pool_mode=session\n';
    assert.equal(
      withPgbouncerSettings(ini, { default_pool_size: '7', max_client_conn: '99' }),
      '[databases]\n* = host=x\n\n[pgbouncer]\n; note\ndefault_pool_size = 7\nlisten_port = 6432\nmax_client_conn = 99\n\n[users]\nu = pool_mode=session\n',
    );
    assert.equal(withPgbouncerSettings('[databases]\n', { a: '1' }), '[databases]\n[pgbouncer]\na = 1\n');
    assert.throws(() => withPgbouncerSettings(ini, { 'a\n[databases]': '1' }), /is not a setting pgbouncer.ini can hold/);
    assert.throws(() => withPgbouncerSettings(ini, { a: '1\nauth_type = any' }), /is not a setting pgbouncer.ini can hold/);
  });

  test('TLS: ssl lines only when on; a key of another curve or another certificate is refused with why', async () => {
    assert.match(renderPostgresqlConf(parseComputeSpec(spec()), { ...opts, tls: true }), /\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n/);
    assert.doesNotMatch(renderPostgresqlConf(parseComputeSpec(spec()), opts), /ssl = on/);
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync: read } = await import('node:fs');
    const dir = mkdtempSync('/tmp/compute-ctl-tls-');
    const pair = (name: string, keyArgs: string[]) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', ...keyArgs, '-nodes', '-keyout', `${dir}/${name}.key`, '-out', `${dir}/${name}.crt`, '-days', '1', '-subj', '/CN=t'], { stdio: 'ignore' });
      return { key: read(`${dir}/${name}.key`, 'utf8'), cert: read(`${dir}/${name}.crt`, 'utf8') };
    };
    const a = pair('a', ['ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']);
    const b = pair('b', ['ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']);
    const rsa = pair('rsa', ['rsa:2048']);
    assert.equal(tlsProblem(a.key, a.cert), null);
    assert.equal(tlsProblem(b.key, a.cert), 'the key does not match the certificate');
    assert.match(tlsProblem(rsa.key, rsa.cert) ?? '', /the key is rsa: only ECDSA P-256 keys are supported/);
    assert.match(tlsProblem(a.key, a.cert.slice(0, 100)) ?? '', /^the certificate cannot be read/);
  });
});
