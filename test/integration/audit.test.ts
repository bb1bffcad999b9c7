// audit_log_level with the real pgaudit (and pgauditlogtofile) of the OS packages: at Log, DDL is
// audited in Postgres' log; the levels that need an rsyslog endpoint refuse to start without one,
// with their own failure type, and start with one.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Client as TemporalClient, Connection, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { startupWorkflowId } from '../../src/compute/ids';
import { postmasters } from '../support/postmasters';
import { configurationRequest, json, postJson, queryRows, until } from '../support/stack';
import { useWorkerProcesses, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

const ROLES = [{ name: 'auditor', encrypted_password: null, options: null }];
const DATABASES = [{ name: 'auditdb', owner: 'auditor', options: null }];

describe('audit logging (pgaudit)', () => {
  const t = useWorkerProcesses();

  async function pod(name: string, env: Record<string, string> = {}): Promise<{ slot: ComputeSlot; w: WorkerProcess }> {
    const slot = await t.slot(`${name}-${process.pid}`);
    const w = t.spawn(slot, { env });
    await until(`${name}'s API`, async () => ((await w.api('/status').catch(() => null))?.ok ? true : undefined), 60_000);
    return { slot, w };
  }

  const configure = (slot: ComputeSlot, w: WorkerProcess, level: string) =>
    w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort, { roles: ROLES, databases: DATABASES }, { audit_log_level: level })));

  test('Log: pgaudit preloaded and installed; a CREATE TABLE is audited in the Postgres log', async () => {
    const { slot, w } = await pod('audit-log');
    const res = await configure(slot, w, 'Log');
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
    const user = `postgresql://auditor@127.0.0.1:${slot.pgPort}/auditdb`;
    const admin = `postgresql://cloud_admin@127.0.0.1:${slot.pgPort}/auditdb`;
    const [settings] = await queryRows<{ libs: string; log: string }>(admin, "SELECT current_setting('shared_preload_libraries') AS libs, current_setting('pgaudit.log') AS log");
    assert.deepEqual(settings, { libs: 'pgaudit', log: 'ddl,role' });
    // The system database is compute-ctl's: not audited (§5.5's ALTER DATABASE … SET pgaudit.log).
    const [system] = await queryRows<{ log: string }>(slot.connstr, "SELECT current_setting('pgaudit.log') AS log");
    assert.equal(system.log, 'none');
    assert.equal((await queryRows(slot.connstr, "SELECT 1 FROM pg_extension WHERE extname = 'pgaudit'")).length, 1, 'the extension is created');
    await queryRows(user, 'CREATE TABLE audited_things (id int)');
    const line = await until('the audit line', async () => w.log().split('\n').find((l) => l.includes('AUDIT: SESSION') && l.includes('CREATE TABLE audited_things')), 15_000);
    assert.match(line, /^PG:.*AUDIT: SESSION,\d+,\d+,DDL,CREATE TABLE,.*,CREATE TABLE audited_things \(id int\),/);
    // compute-ctl's own statements are not audited (its sessions set pgaudit.log=none).
    assert.ok(!w.log().split('\n').some((l) => l.includes('AUDIT:') && /CREATE ROLE|CREATE DATABASE/.test(l)), 'no audit line of the catalog apply');
  });

  test('Hipaa without AUDIT_LOGGING_ENDPOINT: not started, typed AuditLoggingNotConfigured; with it: started with pgauditlogtofile', async () => {
    const refused = await pod('audit-hipaa');
    const res = await configure(refused.slot, refused.w, 'Hipaa');
    assert.equal(res.status, 500);
    const failed = await json(await refused.w.api('/status'));
    assert.equal(failed.status, 'failed');
    assert.match(failed.error, /audit_log_level Hipaa needs AUDIT_LOGGING_ENDPOINT or AUDIT_LOGGING_TLS_ENDPOINT/);
    assert.equal(postmasters(t.stack.postgres, refused.slot.pgdata), 0, 'Postgres never started');
    const connection = await Connection.connect({ address: t.stack.temporal.address });
    try {
      const err = await new TemporalClient({ connection }).workflow.getHandle(startupWorkflowId(refused.slot.computeId, 1)).result().then(() => null, (e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError);
      const step = err.cause as ApplicationFailure;
      assert.equal(step.type, 'PgdataPrepareFailed');
      assert.ok(step.cause instanceof ActivityFailure, `the cause is the step's activity failure: ${String(step.cause)}`);
      assert.equal((step.cause.cause as ApplicationFailure).type, 'AuditLoggingNotConfigured');
    } finally {
      await connection.close();
    }

    const { slot, w } = await pod('audit-full', { AUDIT_LOGGING_ENDPOINT: '127.0.0.1:5140' });
    const started = await configure(slot, w, 'Full');
    assert.equal(started.status, 200, JSON.stringify(await json(started)));
    const [settings] = await queryRows<{ libs: string; log: string; parameter: string }>(
      `postgresql://cloud_admin@127.0.0.1:${slot.pgPort}/auditdb`,
      "SELECT current_setting('shared_preload_libraries') AS libs, current_setting('pgaudit.log') AS log, current_setting('pgaudit.log_parameter') AS parameter",
    );
    assert.deepEqual(settings, { libs: 'pgaudit,pgauditlogtofile', log: 'all', parameter: 'on' });
    const extensions = await queryRows<{ extname: string }>(slot.connstr, "SELECT extname FROM pg_extension WHERE extname LIKE 'pgaudit%' ORDER BY 1");
    assert.deepEqual(extensions.map((e) => e.extname), ['pgaudit', 'pgauditlogtofile']);

    // pgauditlogtofile writes the audit trail into <pgdata>/log; /metrics says how large it is.
    const dirSize = async () => Number(/^compute_audit_log_dir_size (\d+)$/m.exec(await (await w.api('/metrics')).text())?.[1] ?? NaN);
    const before = await dirSize();
    await queryRows(`postgresql://cloud_admin@127.0.0.1:${slot.pgPort}/auditdb`, 'CREATE TABLE audited_in_a_file (id int)');
    const after = await until('the audit file grown', async () => {
      const now = await dirSize();
      return now > before ? now : undefined;
    }, 20_000);
    const files = (await readdir(path.join(slot.pgdata, 'log'))).filter((f) => f.endsWith('log'));
    const bytes = (await Promise.all(files.map((f) => stat(path.join(slot.pgdata, 'log', f))))).reduce((n, st) => n + st.size, 0);
    assert.ok(after > 0 && after <= bytes, `compute_audit_log_dir_size ${after}, files ${bytes} bytes (${files.join(', ')})`);
  });
});
