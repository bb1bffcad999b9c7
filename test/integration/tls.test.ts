// TLS (feature tls_experimental with compute_ctl_config.tls), with certificates made by openssl:
// psql connects with sslmode=require and the pod's certificate is the one served; a rotated
// certificate on disk leads to a reconfiguration workflow, after which the new one is served; a
// spec without the feature leaves TLS off.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { describe, test } from 'node:test';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { reconfigureWorkflowId } from '../../src/compute/ids';
import { runProgram } from '../../src/postgres/os';
import { configurationRequest, json, postJson, until } from '../support/stack';
import { makeCertificate } from '../support/certificates';
import { useWorkerProcesses, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

/**
 * The certificate Postgres serves: PostgreSQL ≥ 15 speaks TLS after an SSLRequest (8 bytes, answered
 * 'S'), so the handshake is done by hand on the socket.
 */
async function servedCertificate(port: number): Promise<PeerCertificate> {
  const net = await import('node:net');
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const request = Buffer.alloc(8);
  request.writeInt32BE(8, 0);
  request.writeInt32BE(80877103, 4);
  socket.write(request);
  const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  assert.equal(answer.toString(), 'S', 'Postgres accepts TLS');
  const secure = tlsConnect({ socket, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  const cert = secure.getPeerCertificate();
  secure.destroy();
  return cert;
}

describe('TLS', () => {
  const t = useWorkerProcesses();

  async function tlsPod(name: string): Promise<{ slot: ComputeSlot; w: WorkerProcess; dir: string }> {
    const dir = path.join(t.stack.tmp, `${name}-${process.pid}`);
    await mkdir(dir, { recursive: true });
    const { keyPath, certPath } = makeCertificate(dir, 'compute-one');
    const config = path.join(dir, 'compute-ctl.json');
    await writeFile(config, JSON.stringify({ compute_ctl_config: { jwks: { keys: [] }, tls: { key_path: keyPath, cert_path: certPath } } }));
    const slot = await t.slot(`${name}-${process.pid}`);
    const w = t.spawn(slot, { args: ['-c', config, '--tls-check-interval', '1'] });
    await until(`${name}'s API`, async () => ((await w.api('/status').catch(() => null))?.ok ? true : undefined), 60_000);
    return { slot, w, dir };
  }

  test('tls_experimental: served with the pod certificate (psql sslmode=require); a rotated certificate is served after a reconfiguration', async () => {
    const { slot, w, dir } = await tlsPod('tls');
    const res = await w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort, {}, { features: ['tls_experimental'] })));
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
    const psql = path.join(path.dirname(t.stack.postgres), 'psql');
    const r = await runProgram(psql, ['-X', '-At', '-d', `host=127.0.0.1 port=${slot.pgPort} user=cloud_admin dbname=postgres sslmode=require`, '-c', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'], { runAs: null });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 't', 'the psql session is encrypted');
    assert.equal((await servedCertificate(slot.pgPort)).subject.CN, 'compute-one');

    // Rotation: a new pair replaces the files in place (the key first, as a renewal tool writes them).
    const next = makeCertificate(dir, 'compute-two', '-next');
    const { readFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'key.pem'), await readFile(next.keyPath));
    await writeFile(path.join(dir, 'cert.pem'), await readFile(next.certPath));
    await until('the new certificate served', async () => ((await servedCertificate(slot.pgPort)).subject.CN === 'compute-two' ? true : undefined), 30_000);
    const connection = await Connection.connect({ address: t.stack.temporal.address });
    try {
      // The rotation is a reconfiguration an operator sees (served from its reload, completed after its catalog step).
      const reconfiguration = new TemporalClient({ connection }).workflow.getHandle(reconfigureWorkflowId(slot.computeId, 1));
      await until('the reconfiguration completed', async () => ((await reconfiguration.describe()).status.name === 'COMPLETED' ? true : undefined), 30_000);
    } finally {
      await connection.close();
    }
    await until('running again', async () => ((await json(await w.api('/status'))).status === 'running' ? true : undefined), 30_000);
  });

  test('without the feature, the pod certificate is not used: TLS stays off', async () => {
    const { slot, w } = await tlsPod('no-tls');
    assert.equal((await w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort)))).status, 200);
    const psql = path.join(path.dirname(t.stack.postgres), 'psql');
    const r = await runProgram(psql, ['-X', '-At', '-d', `host=127.0.0.1 port=${slot.pgPort} user=cloud_admin dbname=postgres sslmode=require`, '-c', 'SELECT 1'], { runAs: null });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /server does not support SSL/);
  });
});
