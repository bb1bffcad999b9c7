import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basebackupQuery, shardZeroUrl, tenantShardId } from '../../src/storage/neon/pageserver';
import { formatLsn, parseLsn } from '../../src/compute/lsn';

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
