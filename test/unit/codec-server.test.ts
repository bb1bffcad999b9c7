// The codec server as the Temporal UI calls it (app.inject): payloads decoded for people, secrets
// redacted, CORS for the UI's origin only, the bearer token when one is set.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Payload } from '@temporalio/common';
import { AesGcmCodec } from '../../src/temporal/payload-codec';
import { buildCodecServer } from '../../src/codec-server';
import { redactText } from '../../src/compute/redact';

const KEY = randomBytes(32).toString('base64');
const UI = 'http://127.0.0.1:8233';
const SCRAM = 'SCRAM-SHA-256$4096:c2FsdHNhbHQ=$c3RvcmVka2V5:c2VydmVya2V5';
const MD5 = 'md5' + 'ab'.repeat(16);
const TOKEN = 'storage-token-e41f20c9b7';
const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
const spec = {
  spec: {
    storage_auth_token: TOKEN,
    storage: { type: 'postgres', connstring: 'postgresql://cloud_admin:conn-pw-9a8b7c@10.0.0.1:5432/postgres' },
    cluster: {
      roles: [
        { name: 'alice', encrypted_password: SCRAM, options: null },
        { name: 'bob', encrypted_password: MD5, options: null },
      ],
      databases: [{ name: 'alicedb', owner: 'alice', options: null }],
      postgresql_conf: "primary_conninfo='host=10.0.0.2 user=replicator password=repl-pw-1'",
    },
  },
  error: `upstream refused ${JWT}`,
};
const SECRETS = [SCRAM, MD5, TOKEN, 'conn-pw-9a8b7c', 'repl-pw-1', JWT];

const asJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const jsonPlain = (v: unknown): Payload => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(v)) });

async function encrypted(value: unknown, key = KEY) {
  return asJson((await new AesGcmCodec(Buffer.from(key, 'base64')).encode([jsonPlain(value)]))[0]);
}

describe('codec server', () => {
  test('/decode: readable JSON, every secret redacted', async () => {
    const app = await buildCodecServer({ key: KEY, origins: [UI] });
    const res = await app.inject({
      method: 'POST',
      url: '/decode',
      headers: { origin: UI, 'x-namespace': 'default', 'content-type': 'application/json' },
      payload: { payloads: [await encrypted(spec), { metadata: { encoding: Buffer.from('binary/null').toString('base64') } }] },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['access-control-allow-origin'], UI);
    const [first, second] = res.json().payloads;
    assert.equal(Buffer.from(first.metadata.encoding, 'base64').toString(), 'json/plain');
    const text = Buffer.from(first.data, 'base64').toString();
    const value = JSON.parse(text);
    assert.equal(value.spec.cluster.roles[0].name, 'alice');
    assert.equal(value.spec.cluster.roles[0].encrypted_password, '<redacted>');
    assert.equal(value.spec.cluster.databases[0].name, 'alicedb');
    assert.equal(value.spec.storage.connstring, 'postgresql://cloud_admin:<redacted>@10.0.0.1:5432/postgres');
    assert.match(value.spec.cluster.postgresql_conf, /user=replicator password=<redacted>/);
    for (const secret of SECRETS) assert.ok(!res.body.includes(secret) && !text.includes(secret), `holds ${secret}`);
    assert.equal(Buffer.from(second.metadata.encoding, 'base64').toString(), 'binary/null');
  });

  test('/encode: what the UI sends is encrypted with the key, and decodes again', async () => {
    const app = await buildCodecServer({ key: KEY, origins: [UI] });
    const res = await app.inject({ method: 'POST', url: '/encode', payload: { payloads: [asJson(jsonPlain({ hello: 'world' }))] } });
    assert.equal(res.statusCode, 200);
    const [p] = res.json().payloads;
    assert.equal(Buffer.from(p.metadata.encoding, 'base64').toString(), 'binary/encrypted');
    const back = await app.inject({ method: 'POST', url: '/decode', payload: { payloads: [p] } });
    assert.deepEqual(JSON.parse(Buffer.from(back.json().payloads[0].data, 'base64').toString()), { hello: 'world' });
  });

  test('CORS: the preflight of the UI origin passes; another origin is refused', async () => {
    const app = await buildCodecServer({ key: KEY, origins: [UI] });
    const pre = await app.inject({ method: 'OPTIONS', url: '/decode', headers: { origin: UI, 'access-control-request-method': 'POST' } });
    assert.equal(pre.statusCode, 204);
    assert.equal(pre.headers['access-control-allow-origin'], UI);
    assert.match(String(pre.headers['access-control-allow-headers']), /X-Namespace/);
    const other = await app.inject({ method: 'POST', url: '/decode', headers: { origin: 'http://evil.example' }, payload: { payloads: [await encrypted(spec)] } });
    assert.equal(other.statusCode, 403);
    assert.deepEqual(other.json(), { error: 'origin http://evil.example is not allowed (--ui-origin)' });
  });

  test('a token, when set, is required', async () => {
    const app = await buildCodecServer({ key: KEY, origins: [UI], token: 'codec-secret' });
    const payload = { payloads: [await encrypted({ a: 1 })] };
    assert.equal((await app.inject({ method: 'POST', url: '/decode', payload })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/decode', payload, headers: { authorization: 'Bearer nope' } })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/decode', payload, headers: { authorization: 'Bearer codec-secret' } })).statusCode, 200);
  });

  test('bad input: another key, no payloads: 400 naming the problem', async () => {
    const app = await buildCodecServer({ key: KEY, origins: [UI] });
    const other = await app.inject({ method: 'POST', url: '/decode', payload: { payloads: [await encrypted({ a: 1 }, randomBytes(32).toString('base64'))] } });
    assert.equal(other.statusCode, 400);
    assert.match(other.json().error, /^cannot decode: payload encrypted with another key/);
    const none = await app.inject({ method: 'POST', url: '/decode', payload: { nothing: [] } });
    assert.equal(none.statusCode, 400);
    assert.match(none.json().error, /payloads/);
  });

  test('redactText leaves ordinary text alone', () => {
    const text = 'failed to get basebackup@0/16B37F0: connection to postgresql://cloud_admin@127.0.0.1:5432/postgres refused';
    assert.equal(redactText(text), text);
  });
});
