// Secrets never leak: everything a run shows — the worker's log (with Postgres' log lines), every
// HTTP answer, the Temporal history as a client without the payload key reads it — across a start
// with SCRAM and md5 passwords, a storage token and a password in the storage connstring, a failed
// start and terminations, holds none of them.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { freePort } from '../../src/dev/ports';
import { execFileSync, spawn } from 'node:child_process';
import { temporalCliPath } from '../../src/dev/temporal-server';
import { keylessView, type StoredPayload } from '../support/history-text';
import { BIN } from '../support/worker-process';
import { scramVerifier } from '../support/scram';
import { configurationRequest, postJson, until } from '../support/stack';
import { useWorkerProcesses, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

const SCRAM_PASSWORD = 'scram-pw-7c1d9e';
const MD5_PASSWORD = 'md5-pw-52b0aa';
const TOKEN = 'storage-token-e41f20c9b7';
const CONN_PASSWORD = 'conn-pw-9a8b7c';

describe('secrets never leak', () => {
  const env = { COMPUTE_CTL_PAYLOAD_KEY: randomBytes(32).toString('base64') };
  const t = useWorkerProcesses({ payloadKey: env.COMPUTE_CTL_PAYLOAD_KEY });
  const answers: string[] = [];
  /** What the first test left in Temporal, for the codec server's test. */
  let stored: StoredPayload[] = [];
  const allSecrets = new Set<string>();

  /** A request whose answer is kept for the search: body and headers. */
  async function call(w: WorkerProcess, path: string, init?: RequestInit): Promise<Response> {
    const res = await w.api(path, init);
    const body = await res.clone().text();
    answers.push(`${path} ${res.status} ${JSON.stringify([...res.headers])} ${body}`);
    return res;
  }

  test('a start, every route, a failed start and terminations: no secret anywhere', async () => {
    const scram = scramVerifier(SCRAM_PASSWORD);
    const md5 = `md5${createHash('md5').update(`${MD5_PASSWORD}bob`).digest('hex')}`;
    const stack = t.stack;
    const upstream = new URL(stack.upstream.connstring);
    const storageWithPassword = (port: string) => `postgresql://${upstream.username}:${CONN_PASSWORD}@${upstream.hostname}:${port}${upstream.pathname}`;
    const secrets = [SCRAM_PASSWORD, MD5_PASSWORD, scram, md5, md5.slice(3), TOKEN, CONN_PASSWORD];

    const request = (slot: ComputeSlot, upstreamPort: string) =>
      configurationRequest(
        stack,
        slot.pgPort,
        {
          roles: [
            { name: 'alice', encrypted_password: scram, options: null },
            { name: 'bob', encrypted_password: md5, options: null },
          ],
          databases: [{ name: 'alicedb', owner: 'alice', options: null }],
        },
        { storage_auth_token: TOKEN, storage: { type: 'postgres', connstring: storageWithPassword(upstreamPort) } },
      );

    // A compute that starts (the upstream trusts local connections: the password rides along unused).
    const ok = await t.slot(`secrets-ok-${process.pid}`);
    const w = t.spawn(ok, { env });
    await until('/status', async () => ((await w.api('/status')).ok ? true : undefined));
    const configured = await call(w, '/configure', postJson(request(ok, upstream.port)));
    assert.equal(configured.status, 200);
    for (const path of ['/status', '/metrics', '/metrics.json', '/dbs_and_roles', '/insights', '/database_schema?database=alicedb', '/openapi.json']) {
      await call(w, path);
    }
    await call(w, '/check_writability', { method: 'POST' });
    // A reconfiguration refused for its body, and one that applies.
    await call(w, '/configure', postJson({ ...request(ok, upstream.port), spec: { ...request(ok, upstream.port).spec, cluster: 'nope' } }));
    await call(w, '/configure', postJson(request(ok, upstream.port)));

    // A compute whose start fails: its upstream (with the password in the connstring) is not there.
    const bad = await t.slot(`secrets-bad-${process.pid}`);
    const wb = t.spawn(bad, { env });
    await until('/status', async () => ((await wb.api('/status')).ok ? true : undefined));
    const failed = await call(wb, '/configure', postJson(request(bad, String(await freePort()))));
    assert.equal(failed.status, 500);
    await call(wb, '/status');

    assert.equal((await call(w, '/terminate', { method: 'POST' })).status, 200);
    assert.equal((await call(wb, '/terminate', { method: 'POST' })).status, 200);
    await call(w, '/status');

    const connection = await Connection.connect({ address: stack.temporal.address });
    let history: Awaited<ReturnType<typeof keylessView>>;
    secrets.forEach((x) => allSecrets.add(x));
    try {
      // Listed raw: a keyless client cannot even decode the memos a listing carries.
      const ids: string[] = [];
      for (const slot of [ok, bad]) {
        const listed = await connection.workflowService.listWorkflowExecutions({ namespace: 'default', query: `WorkflowId STARTS_WITH 'compute-${slot.computeId}'` });
        for (const e of listed.executions ?? []) ids.push(e.execution!.workflowId!);
      }
      assert.ok(ids.length >= 6, `the lifecycles and their children (${ids.join(', ')})`);
      history = await keylessView(new TemporalClient({ connection }), ids);
      stored = history.payloads;
    } finally {
      await connection.close();
    }
    // Every payload is ciphertext to a keyless client.
    // Search attributes excepted: Temporal indexes them, so no codec may touch them (ids and status only).
    const plain = history.payloads.filter((p) => p.encoding !== 'binary/encrypted' && !p.at.includes('.searchAttributes.indexedFields.'));
    assert.deepEqual(plain.map((p) => `${p.at}: ${p.encoding}`), []);
    assert.ok(history.payloads.length > 20, `payloads found (${history.payloads.length})`);

    const everything = { log: w.log() + wb.log(), answers: answers.join('\n'), history: history.text };
    assert.ok(everything.log.includes('PG:'), "Postgres' own log lines are part of it");
    assert.ok(everything.answers.includes('alicedb') && everything.history.includes('StartLsnFailed'), 'the search covers real content');
    for (const [where, text] of Object.entries(everything)) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `${where} holds ${secret.slice(0, 12)}…`);
    }
  });

  test('the codec server (compute-ctl codec-server) shows the UI every payload in clear text, no secret', async () => {
    assert.ok(stored.length > 20, 'the previous test left payloads');
    const port = await freePort();
    const ui = 'http://127.0.0.1:18233';
    const server = spawn(process.execPath, [BIN, 'codec-server', '--port', String(port), '--ui-origin', ui], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await until('the codec server', async () => ((await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: ui } }).catch(() => null))?.status === 204 ? true : undefined));
      const asJson = (p: StoredPayload) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, v.toString('base64')])),
        data: p.data.toString('base64'),
      });
      let shown = '';
      for (let i = 0; i < stored.length; i += 50) {
        // As the UI's browser sends it.
        const res = await fetch(`${url}/decode`, {
          method: 'POST',
          headers: { origin: ui, 'content-type': 'application/json', 'x-namespace': 'default' },
          body: JSON.stringify({ payloads: stored.slice(i, i + 50).map(asJson) }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        assert.equal(res.headers.get('access-control-allow-origin'), ui);
        for (const p of ((await res.json()) as { payloads: unknown[] }).payloads as { metadata: Record<string, string>; data?: string }[]) {
          const encoding = Buffer.from(p.metadata.encoding, 'base64').toString();
          assert.ok(encoding === 'json/plain' || encoding === 'binary/null', encoding);
          shown += `${Buffer.from(p.data ?? '', 'base64').toString()}\n`;
        }
      }
      // Readable: the spec's names, the status, the summaries.
      for (const readable of ['"alicedb"', '"name":"alice"', '"status":"running"', '"status":"terminated"', 'compute secrets-ok-', '<redacted>']) {
        assert.ok(shown.includes(readable), `the UI shows ${readable}`);
      }
      for (const secret of allSecrets) assert.ok(!shown.includes(secret), `the UI shows ${secret.slice(0, 12)}…`);

      // Temporal's other reader, the CLI, decodes a whole history through it too.
      const lifecycle = `compute-secrets-ok-${process.pid}`;
      const cli = execFileSync(temporalCliPath(), ['workflow', 'show', '-w', lifecycle, '--address', t.stack.temporal.address, '--codec-endpoint', url, '--output', 'json'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      // Its JSON keeps each payload's bytes in base64: every json/plain payload, read.
      const decodedByCli: string[] = [];
      const walk = (node: unknown): void => {
        if (!node || typeof node !== 'object') return;
        const o = node as { metadata?: { encoding?: string }; data?: string };
        if (o.metadata?.encoding && Buffer.from(o.metadata.encoding, 'base64').toString() === 'json/plain') decodedByCli.push(Buffer.from(o.data ?? '', 'base64').toString());
        Object.values(node).forEach(walk);
      };
      walk(JSON.parse(cli));
      const read = decodedByCli.join('\n');
      for (const readable of ['"alicedb"', '"status":"running"', '<redacted>']) assert.ok(read.includes(readable), `the CLI shows ${readable}`);
      for (const secret of allSecrets) assert.ok(!read.includes(secret) && !cli.includes(secret), `the CLI shows ${secret.slice(0, 12)}…`);
    } finally {
      server.kill('SIGTERM');
    }
  });
});
