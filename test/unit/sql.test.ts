import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dollarQuote, passwordClause, quoteIdent, quoteLiteral, renderSqlOptions, samePassword } from '../../src/postgres/catalog/sql';

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
  test('DO-block literals: the dollar-quote tag grows past what the name contains (§5.4)', () => {
    assert.deepEqual(dollarQuote('name'), { literal: '$x$name$x$', outerTag: 'xx' });
    assert.deepEqual(dollarQuote('x'), { literal: '$xx$x$xx$', outerTag: 'xxx' });
    assert.deepEqual(dollarQuote('name$x$'), { literal: '$xx$name$x$$xx$', outerTag: 'xxx' });
    assert.deepEqual(dollarQuote('$xx$'), { literal: '$xxx$$xx$$xxx$', outerTag: 'xxxx' });
  });
});
