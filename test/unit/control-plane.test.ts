// The spec fetch from the control plane (reference §11): at most 3 attempts; transport errors,
// undecodable JSON, 502 and 503 retried; any other status final. A local HTTP server plays the
// control plane, answering each request as the test scripts it.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Registry, Counter } from 'prom-client';
import { fetchComputeConfig } from '../../src/compute-config/control-plane';

type Answer = 'drop' | { status: number; body: string };
const ATTACHED = JSON.stringify({
  status: 'attached',
  compute_ctl_config: { jwks: { keys: [] } },
  spec: { format_version: 1, suspend_timeout_seconds: -1, storage: { type: 'postgres', connstring: 'postgresql://u@h/db' }, cluster: { roles: [], databases: [] } },
});

describe('control plane spec fetch', () => {
  let server: http.Server;
  let uri: string;
  let script: Answer[] = [];
  let served = 0;
  before(async () => {
    server = http.createServer((req, res) => {
      const answer = script[served++] ?? { status: 500, body: 'unscripted' };
      if (answer === 'drop') return void req.socket.destroy(); // a transport error
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function fetchWith(answers: Answer[]) {
    script = answers;
    served = 0;
    const registry = new Registry();
    const counter = new Counter({ name: 'c', help: 'h', labelNames: ['rpc', 'http_status'] as const, registers: [registry] });
    const result = await fetchComputeConfig(uri, 'c1', 'token', counter).then(
      (v) => ({ ok: v.status }),
      (err: Error) => ({ error: err.message }),
    );
    const counted = (await counter.get()).values.map((v) => `${v.labels.http_status}=${v.value}`).sort();
    return { result, requests: served, counted };
  }

  test('a transport error, then 502, then the spec: retried, every attempt counted', async () => {
    const r = await fetchWith(['drop', { status: 502, body: '' }, { status: 200, body: ATTACHED }]);
    assert.deepEqual(r.result, { ok: 'attached' });
    assert.equal(r.requests, 3);
    assert.deepEqual(r.counted, ['200 OK=1', '502 Bad Gateway=1', 'unknown=1']);
  });

  test('at most 3 attempts: then the last reason', async () => {
    const r = await fetchWith([{ status: 503, body: '' }, { status: 503, body: '' }, { status: 503, body: '' }, { status: 200, body: ATTACHED }]);
    assert.deepEqual(r.result, { error: 'Exhausted all attempts to retrieve the config from the control plane (control plane answered 503)' });
    assert.equal(r.requests, 3);
  });

  test('undecodable JSON is retried; any other status is final at once', async () => {
    const retried = await fetchWith([{ status: 200, body: '{"status": "attac' }, { status: 200, body: ATTACHED }]);
    assert.deepEqual([retried.result, retried.requests], [{ ok: 'attached' }, 2]);
    const final = await fetchWith([{ status: 404, body: 'no such compute' }, { status: 200, body: ATTACHED }]);
    assert.deepEqual([final.result, final.requests], [{ error: 'control plane answered 404 for compute c1: no such compute' }, 1]);
  });
});
