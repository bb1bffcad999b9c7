import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basebackupQuery, shardZeroUrl, tenantShardId } from '../../src/storage/neon/pageserver';
import { formatLsn, parseLsn } from '../../src/compute/lsn';
import { basebackupRefusal, FIXTURE_TENANT, FIXTURE_TIMELINE, leaseRefusal } from '../fixtures/neon';

const T = 'b0554b632bd4d547a63b86c3630317e8';
const TL = '2414a61ffc94e428f14b5758fe308e13';

describe('Neon protocol texts', () => {
  test('basebackup query, byte for byte (§4.5)', () => {
    assert.equal(basebackupQuery(T, TL, '0/0', { type: 'primary' }), `basebackup ${T} ${TL} --gzip`);
    assert.equal(basebackupQuery(T, TL, '0/0', { type: 'replica' }), `basebackup ${T} ${TL} --gzip --replica`);
    assert.equal(basebackupQuery(T, TL, '0/169AD58', { type: 'primary' }), `basebackup ${T} ${TL} 0/169AD58 --gzip`);
    assert.equal(basebackupQuery(T, TL, '0/169AD58', { type: 'static', lsn: '0/169AD58' }), `basebackup ${T} ${TL} 0/169AD58 --gzip --replica`);
  });

  test('tenant shard ids: bare when unsharded, -NNCC when sharded (§8.2)', () => {
    const info = (shard_count: number) => ({ shard_count, stripe_size: shard_count ? 32768 : null, shards: {} });
    assert.equal(tenantShardId(T, info(0), 0), T);
    assert.equal(tenantShardId(T, info(1), 0), `${T}-0001`);
    assert.equal(tenantShardId(T, info(4), 3), `${T}-0304`);
  });

  test('shard 0 is where basebackups come from; gRPC is refused clearly', () => {
    const shards = { '0004': { pageservers: [{ libpq_url: 'postgres://a:1' }, { libpq_url: 'postgres://b:1' }] }, '0104': { pageservers: [{ libpq_url: 'postgres://c:1' }] } };
    assert.equal(shardZeroUrl({ shard_count: 4, stripe_size: 8, shards }), 'postgres://a:1');
    assert.throws(() => shardZeroUrl({ shard_count: 4, stripe_size: 8, shards, prefer_protocol: 'grpc' }), /gRPC pageserver protocol is not supported/);
    assert.throws(() => shardZeroUrl({ shard_count: 2, stripe_size: 8, shards }), /no libpq_url for shard 0002/);
  });

  test('LSNs: X/X upper-case hex, 64 bits', () => {
    assert.equal(parseLsn('0/169ad58'), 0x169ad58n);
    assert.equal(parseLsn('1/0'), 1n << 32n);
    assert.equal(formatLsn(parseLsn('a/b0')), 'A/B0');
    assert.throws(() => parseLsn('nonsense'), /invalid LSN/);
  });
});

describe('the fixture pageserver refuses what a real one would', () => {
  const words = (sql: string) => sql.trim().split(' ');
  test("compute-ctl's own queries pass", () => {
    assert.equal(basebackupRefusal(words(basebackupQuery(FIXTURE_TENANT, FIXTURE_TIMELINE, '0/16B37F0', { type: 'primary' }))), null);
    assert.equal(basebackupRefusal(words(basebackupQuery(FIXTURE_TENANT, FIXTURE_TIMELINE, '0/0', { type: 'replica' }))), null);
    assert.equal(leaseRefusal(words(`lease lsn ${FIXTURE_TENANT} ${FIXTURE_TIMELINE} 0/16B37F0 `)), null);
    assert.equal(leaseRefusal(words(`lease lsn ${FIXTURE_TENANT}-0104 ${FIXTURE_TIMELINE} 0/16B37F0 `)), null);
  });
  test('wrong tenant or timeline, malformed LSNs and flags, missing words', () => {
    const other = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    assert.equal(basebackupRefusal(words(`basebackup ${other} ${FIXTURE_TIMELINE} 0/1 --gzip`)), `NotFound: tenant ${other}`);
    assert.equal(basebackupRefusal(words(`basebackup ${FIXTURE_TENANT} ${other} --gzip`)), `NotFound: timeline ${FIXTURE_TENANT}/${other}`);
    assert.equal(basebackupRefusal(words(`basebackup ${FIXTURE_TENANT} ${FIXTURE_TIMELINE} 0x16 --gzip`)), 'invalid basebackup lsn: 0x16');
    assert.equal(basebackupRefusal(words(`basebackup ${FIXTURE_TENANT} ${FIXTURE_TIMELINE} --zip`)), 'invalid basebackup flag: --zip');
    assert.match(basebackupRefusal(words(`basebackup ${FIXTURE_TENANT}`))!, /^invalid basebackup command/);
    assert.equal(leaseRefusal(words(`lease lsn ${FIXTURE_TENANT} ${FIXTURE_TIMELINE} 16B37F0 `)), 'invalid lsn: 16B37F0');
    assert.match(leaseRefusal(words(`lease lsn ${FIXTURE_TENANT} ${FIXTURE_TIMELINE}`))!, /^invalid lease lsn command/);
    assert.equal(leaseRefusal(words(`lease lsn ${FIXTURE_TENANT}-zz ${FIXTURE_TIMELINE} 0/1`)), `NotFound: tenant ${FIXTURE_TENANT}-zz`);
  });
});
