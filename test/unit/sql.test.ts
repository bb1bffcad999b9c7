import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planCatalog } from '../../src/activities/catalog';
import { passwordClause, quoteIdent, quoteLiteral, renderSqlOptions, samePassword } from '../../src/activities/sql';
import { parseComputeSpec } from '../../src/spec/parse';

describe('SQL quoting (§5.4, §2.3)', () => {
  test('identifiers are always double-quoted with quotes doubled', () => {
    assert.equal(quoteIdent('neondb'), '"neondb"');
    assert.equal(quoteIdent('a "b"'), '"a ""b"""');
    assert.equal(quoteIdent('x"; DROP ROLE y; --'), '"x""; DROP ROLE y; --"');
  });
  test('literals: quotes doubled, E-strings for backslashes', () => {
    assert.equal(quoteLiteral("it's"), "'it''s'");
    assert.equal(quoteLiteral('a\\b'), "E'a\\\\b'");
  });
  test('options: string values as literals, others raw, null bare', () => {
    assert.equal(
      renderSqlOptions([
        { name: 'LC_COLLATE', value: 'C', vartype: 'string' },
        { name: 'CONNECTION LIMIT', value: '5', vartype: 'integer' },
        { name: 'IN ROLE pg_monitor', value: null, vartype: 'bool' },
      ]),
      " LC_COLLATE 'C' CONNECTION LIMIT 5 IN ROLE pg_monitor",
    );
    assert.equal(renderSqlOptions(null), '');
  });
  test('passwords: SCRAM verbatim, md5 prefixed, null as NULL; md5 compares with its stored prefix', () => {
    assert.equal(passwordClause('SCRAM-SHA-256$4096:abc'), "PASSWORD 'SCRAM-SHA-256$4096:abc'");
    assert.equal(passwordClause('0123abcd'), "PASSWORD 'md50123abcd'");
    assert.equal(passwordClause(null), 'PASSWORD NULL');
    assert.ok(samePassword('md50123abcd', '0123abcd'));
    assert.ok(samePassword('SCRAM-SHA-256$x', 'SCRAM-SHA-256$x'));
    assert.ok(!samePassword('SCRAM-SHA-256$x', 'SCRAM-SHA-256$y'));
    assert.ok(samePassword(null, null));
    assert.ok(!samePassword('md5x', null));
  });
});

describe('catalog plan', () => {
  const parsed = parseComputeSpec({
    format_version: 1,
    suspend_timeout_seconds: -1,
    storage: { type: 'postgres', connstring: 'postgresql://x@y/z' },
    cluster: {
      roles: [
        { name: 'owner', encrypted_password: 'abcd', options: null },
        { name: 'new "one"', encrypted_password: null, options: null },
      ],
      databases: [
        { name: 'db1', owner: 'owner', options: null },
        { name: 'db2', owner: 'new "one"', options: [{ name: 'TEMPLATE', value: 'template0', vartype: 'raw' }] },
      ],
    },
  });

  test('creates what is missing, alters what differs', () => {
    const plan = planCatalog(parsed, 'neon_superuser', {
      roles: new Map([['owner', 'md5zzzz']]),
      databases: new Map([['db1', 'someone_else']]),
    });
    assert.match(plan[0], /^DO \$x\$ BEGIN IF NOT EXISTS .* CREATE ROLE neon_superuser CREATEDB CREATEROLE NOLOGIN REPLICATION BYPASSRLS IN ROLE pg_read_all_data, pg_write_all_data; END IF; END \$x\$$/);
    assert.deepEqual(plan.slice(1), [
      "ALTER ROLE \"owner\" LOGIN PASSWORD 'md5abcd'",
      'CREATE ROLE "new ""one""" INHERIT CREATEROLE CREATEDB BYPASSRLS REPLICATION IN ROLE neon_superuser LOGIN PASSWORD NULL',
      'ALTER DATABASE "db1" OWNER TO "owner"',
      'CREATE DATABASE "db2" TEMPLATE template0 OWNER "new ""one"""',
      'GRANT ALL PRIVILEGES ON DATABASE "db2" TO neon_superuser',
    ]);
  });

  test('an unchanged catalog needs nothing but the privileged-role check', () => {
    const plan = planCatalog(parsed, 'neon_superuser', {
      roles: new Map<string, string | null>([['owner', 'md5abcd'], ['new "one"', null]]),
      databases: new Map([['db1', 'owner'], ['db2', 'new "one"']]),
    });
    assert.equal(plan.length, 1);
  });

  test('the privileged role name is validated', () => {
    assert.throws(() => planCatalog(parsed, 'Neon-Super', { roles: new Map(), databases: new Map() }), /invalid privileged role name/);
  });
});
