import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseComputeConfig, parseComputeSpec, parseConfigurationRequest, SpecError } from '../../src/compute-spec/parse';

const fixture = () => JSON.parse(readFileSync(path.join(__dirname, '../../../test/fixtures/neon-attached-config.json'), 'utf8'));
const spec = () => fixture().spec;

function specError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
    return err;
  }
  assert.fail('expected the spec to be rejected');
}

describe('ComputeConfig / ComputeSpec parsing', () => {
  test('the reference example parses, unknown fields ignored and kept', () => {
    const parsed = parseComputeConfig(fixture());
    assert.ok(parsed.spec);
    assert.deepEqual(parsed.spec.mode, { type: 'primary' });
    assert.equal(parsed.spec.tenantId, 'b0554b632bd4d547a63b86c3630317e8');
    assert.equal(parsed.spec.storage.type, 'neon');
    if (parsed.spec.storage.type === 'neon') {
      assert.deepEqual(parsed.spec.storage.safekeepers, ['sk-1:5454', 'sk-2:5454', 'sk-3:5454']);
      assert.equal(parsed.spec.storage.pageserver.shards['0000'].pageservers[0].libpq_url, 'postgres://no_user@ps-1:6400');
    }
    assert.deepEqual((parsed.spec.spec as Record<string, unknown>).some_future_field, { nested: [1, 2, 3] });
  });

  test('compute_ctl_config and its jwks are required; spec is optional', () => {
    const noSpec = fixture();
    delete noSpec.spec;
    assert.equal(parseComputeConfig(noSpec).spec, null);
    const noCtl = fixture();
    delete noCtl.compute_ctl_config;
    assert.equal(specError(() => parseComputeConfig(noCtl)).message, 'compute_ctl_config: missing field');
    assert.equal(specError(() => parseConfigurationRequest({ spec: spec(), compute_ctl_config: {} })).message, 'compute_ctl_config.jwks: missing field');
  });

  test('wrong types and missing fields name the field (kind schema)', () => {
    const s = spec();
    s.cluster.roles = 'everyone';
    const e = specError(() => parseComputeSpec(s));
    assert.equal(e.kind, 'schema');
    assert.match(e.message, /^spec\.cluster\.roles: expected array/);

    const s2 = spec();
    delete s2.format_version;
    assert.equal(specError(() => parseComputeSpec(s2)).message, 'spec.format_version: missing field');

    const s3 = spec();
    s3.cluster.databases[0].owner = 42;
    assert.match(specError(() => parseComputeSpec(s3)).message, /^spec\.cluster\.databases\[0\]\.owner: expected string/);

    // The features' own objects are checked as deeply (Neon's RemoteExtSpec and LocalProxySpec).
    const remote = { public_extensions: ['pg_x'], custom_extensions: null, library_index: { pg_x: 'pg_x' }, extension_data: { pg_x: { control_data: { 'pg_x.control': '' }, archive_path: 'a' } } };
    assert.ok(parseComputeSpec({ ...spec(), remote_extensions: remote }));
    assert.match(specError(() => parseComputeSpec({ ...spec(), remote_extensions: { ...remote, public_extensions: 'pg_x' } })).message, /^spec\.remote_extensions\.public_extensions: expected/);
    assert.equal(specError(() => parseComputeSpec({ ...spec(), remote_extensions: { public_extensions: [] } })).message, 'spec.remote_extensions.library_index: missing field');
    const proxy = { jwks: [{ id: 'k', role_names: ['r'], jwks_url: 'https://a/jwks', provider_name: 'p', jwt_audience: null }], tls: { key_path: 'k', cert_path: 'c' } };
    assert.ok(parseComputeSpec({ ...spec(), local_proxy_config: proxy }));
    assert.equal(specError(() => parseComputeSpec({ ...spec(), local_proxy_config: { jwks: [{ id: 'k', jwks_url: 'https://a/jwks', provider_name: 'p' }] } })).message, 'spec.local_proxy_config.jwks[0].role_names: missing field');
    assert.equal(specError(() => parseComputeSpec({ ...spec(), offload_lfc_interval_seconds: 0 })).kind, 'schema');
  });

  test('modes: Primary, Replica, Static with its LSN; anything else is rejected', () => {
    const s = spec();
    s.mode = { Static: '0/169ad58' };
    assert.deepEqual(parseComputeSpec(s).mode, { type: 'static', lsn: '0/169AD58' });
    s.mode = 'Replica';
    assert.deepEqual(parseComputeSpec(s).mode, { type: 'replica' });
    delete s.mode;
    assert.deepEqual(parseComputeSpec(s).mode, { type: 'primary' });
    s.mode = 'Secondary';
    assert.match(specError(() => parseComputeSpec(s)).message, /^spec\.mode: unknown compute mode "Secondary"/);
    s.mode = { Static: 'not-an-lsn' };
    assert.match(specError(() => parseComputeSpec(s)).message, /^spec\.mode: unknown compute mode/);
  });

  test('§2.7 errors, with the reference wording (kind invalid)', () => {
    const cases: [string, (s: Record<string, any>) => void][] = [
      ['pageserver connection information should be provided', (s) => {
        delete s.pageserver_connection_info;
        delete s.pageserver_connstring;
      }],
      ['tenant id should be provided', (s) => delete s.tenant_id],
      ['invalid tenant id', (s) => (s.tenant_id = 'xyz')],
      ['timeline id should be provided', (s) => delete s.timeline_id],
      ['safekeeper connstrings should be provided', (s) => delete s.safekeeper_connstrings],
      ['safekeeper_connstrings is empty', (s) => (s.cluster.settings = [{ name: 'neon.safekeepers', value: '', vartype: 'string' }]) && delete s.safekeeper_connstrings],
      ['duplicate entry in safekeeper_connstrings: sk-2:5454!', (s) => (s.safekeeper_connstrings = ['sk-2:5454', 'sk-1:5454', 'sk-2:5454'])],
      ['3 shards but no stripe_size', (s) => {
        delete s.pageserver_connection_info;
        s.pageserver_connstring = 'postgres://a:1,postgres://b:1,postgres://c:1';
      }],
    ];
    for (const [message, mutate] of cases) {
      const s = spec();
      mutate(s);
      const e = specError(() => parseComputeSpec(s));
      assert.equal(e.message, message);
      assert.equal(e.kind, 'invalid');
    }
  });

  test('ids and safekeepers fall back to the GUCs in cluster.settings', () => {
    const s = spec();
    delete s.tenant_id;
    delete s.safekeeper_connstrings;
    delete s.pageserver_connection_info;
    delete s.pageserver_connstring;
    s.cluster.settings = [
      { name: 'neon.tenant_id', value: 'b0554b632bd4d547a63b86c3630317e8', vartype: 'string' },
      { name: 'neon.safekeepers', value: 'sk-a:1,sk-b:1', vartype: 'string' },
      { name: 'neon.pageserver_connstring', value: 'postgres://p0:1,postgres://p1:1', vartype: 'string' },
      { name: 'neon.stripe_size', value: '32768', vartype: 'integer' },
    ];
    const parsed = parseComputeSpec(s);
    assert.equal(parsed.tenantId, 'b0554b632bd4d547a63b86c3630317e8');
    assert.ok(parsed.storage.type === 'neon');
    if (parsed.storage.type !== 'neon') return;
    assert.deepEqual(parsed.storage.safekeepers, ['sk-a:1', 'sk-b:1']);
    assert.equal(parsed.storage.pageserver.shard_count, 2);
    assert.equal(parsed.storage.pageserver.stripe_size, 32768);
    assert.deepEqual(Object.keys(parsed.storage.pageserver.shards), ['0002', '0102']);
  });

  test('a Replica or Static compute needs no safekeepers', () => {
    const s = spec();
    delete s.safekeeper_connstrings;
    s.mode = 'Replica';
    assert.equal(parseComputeSpec(s).storage.type, 'neon');
  });

  test('the postgres storage extension needs no Neon fields', () => {
    const parsed = parseComputeSpec({
      format_version: 1,
      suspend_timeout_seconds: -1,
      storage: { type: 'postgres', connstring: 'postgresql://cloud_admin@127.0.0.1:5432/postgres' },
      cluster: { roles: [], databases: [] },
    });
    assert.deepEqual(parsed.storage, { type: 'postgres', connstring: 'postgresql://cloud_admin@127.0.0.1:5432/postgres' });
    assert.equal(parsed.tenantId, null);
    assert.equal(
      specError(() => parseComputeSpec({ format_version: 1, suspend_timeout_seconds: -1, storage: { type: 'postgres' }, cluster: { roles: [], databases: [] } })).kind,
      'schema',
    );
  });
});
