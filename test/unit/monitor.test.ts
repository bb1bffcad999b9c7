// The compute monitor (§8.1) and the /metrics text it feeds (§7.1), with a scripted Postgres.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ComputeMonitor, type Probe } from '../../src/pod/compute-monitor';
import type { ComputeStatus } from '../../src/compute/status';
import type { StatusView } from '../../src/compute/views';
import { newLifecycleState, statusView } from '../../src/compute/lifecycle-state';
import { lastSeenActive } from '../../src/postgres/activity-probe';
import { createMetrics } from '../../src/pod/metrics';
import { omitEmptyFamilies } from '../../src/compute/exposition';
import { assertValidExposition } from '../support/exposition';

const at = (s: number) => new Date(Date.UTC(2026, 10, 22, 6, 0, s));

function scripted(answers: (Date | null | Error)[]): Probe & { calls: number } {
  return {
    calls: 0,
    async probe() {
      const a = answers[this.calls++];
      if (a instanceof Error) throw a;
      return { lastSeen: a ?? null, walReceiver: null };
    },
    async close() {},
  };
}

describe('compute monitor', () => {
  test('what counts as active (§8.1 steps 2–5)', () => {
    const idle = { busy: 0, idle_since: null, replication: 0, subscriptions: 0, autovacuum: 0, wal_receiver: null };
    assert.equal(lastSeenActive(idle, at(9)), null);
    assert.deepEqual(lastSeenActive({ ...idle, idle_since: at(3) }, at(9)), at(3));
    for (const k of ['busy', 'replication', 'subscriptions', 'autovacuum'] as const) {
      assert.deepEqual(lastSeenActive({ ...idle, idle_since: at(3), [k]: 1 }, at(9)), at(9), k);
    }
  });

  test('last_active only moves forward, and only while the compute runs', async () => {
    let status: ComputeStatus = 'init';
    const probe = scripted([at(5), at(3), null, at(8)]);
    const m = new ComputeMonitor(probe, () => status);
    await m.tick(at(1));
    assert.equal(probe.calls, 0, 'not watched before running');
    status = 'running';
    await m.tick(at(5));
    assert.equal(m.lastActive(), at(5).toISOString());
    await m.tick(at(6)); // an older idle state change
    await m.tick(at(7)); // nobody
    assert.equal(m.lastActive(), at(5).toISOString());
    await m.tick(at(8));
    assert.equal(m.lastActive(), at(8).toISOString());
    status = 'failed';
    await m.tick(at(9));
    assert.equal(probe.calls, 4, 'not watched once failed');
  });

  test("a Replica's WAL stream: not streaming since the first check that did not see it", async () => {
    const seen = ['streaming', null, 'waiting', 'streaming'];
    let i = 0;
    const m = new ComputeMonitor({ probe: async () => ({ lastSeen: null, walReceiver: seen[i++] }), close: async () => {} }, () => 'running');
    await m.tick(at(1));
    assert.deepEqual(m.replication(), { wal_receiver: 'streaming', not_streaming_since: null });
    await m.tick(at(2));
    await m.tick(at(3));
    assert.deepEqual(m.replication(), { wal_receiver: 'waiting', not_streaming_since: at(2).toISOString() });
    await m.tick(at(4));
    assert.deepEqual(m.replication(), { wal_receiver: 'streaming', not_streaming_since: null });
  });

  test('downtime: current since the last good check, total summed over failed checks', async () => {
    const probe = scripted([null, new Error('connection refused'), new Error('connection refused'), null]);
    const m = new ComputeMonitor(probe, () => 'running');
    await m.tick(at(10));
    await m.tick(at(11));
    assert.deepEqual([m.currentDowntimeMs, m.totalDowntimeMs], [1000, 1000]);
    await m.tick(at(13));
    assert.deepEqual([m.currentDowntimeMs, m.totalDowntimeMs], [3000, 3000]);
    await m.tick(at(14));
    assert.deepEqual([m.currentDowntimeMs, m.totalDowntimeMs], [0, 3000]);
  });
});

describe('/metrics text', () => {
  const view = (lease: boolean): StatusView => ({
    ...statusView(newLifecycleState('c1', at(0).toISOString())),
    status: 'running',
    lsn_lease: lease ? { status: 'held', lsn: '0/16B37F0', valid_until: at(600).toISOString(), renewals: 1, error: null } : null,
  });
  const render = async (lease: boolean) => {
    const metrics = createMetrics('v1', async () => view(lease), {
      downtime: () => ({ currentMs: 0, totalMs: 1500 }),
      installedExtensions: () => [{ extension_name: 'plpgsql', version: '1.0', owned_by_superuser: '1', databases: 3 }],
      temporalUp: () => true,
      auditLogBytes: async () => 4096,
    });
    return metrics.exposition.metrics();
  };

  test('families of §7.1, valid as promtool reads them; no lease gauges without a lease', async () => {
    const families = assertValidExposition(await render(false));
    assert.deepEqual(families.get('compute_ctl_up')?.samples, ['compute_ctl_up{build_tag="v1",status="running"} 1']);
    assert.deepEqual(families.get('compute_pg_current_downtime_ms')?.samples, ['compute_pg_current_downtime_ms 0']);
    assert.deepEqual(families.get('compute_audit_log_dir_size')?.samples, ['compute_audit_log_dir_size 4096']);
    for (const name of ['compute_ctl_lfc_prewarms_total', 'compute_ctl_lfc_prewarm_errors_total', 'compute_ctl_lfc_offloads_total', 'compute_ctl_lfc_offload_errors_total']) {
      assert.deepEqual(families.get(name)?.samples, [`${name} 0`], name);
    }
    assert.deepEqual(families.get('compute_pg_downtime_ms_total')?.samples, ['compute_pg_downtime_ms_total 1500']);
    assert.deepEqual(families.get('compute_ctl_temporal_up')?.samples, ['compute_ctl_temporal_up 1']);
    assert.deepEqual(families.get('compute_installed_extensions')?.samples, [
      'compute_installed_extensions{extension_name="plpgsql",version="1.0",owned_by_superuser="1"} 3',
    ]);
    assert.ok(!families.has('compute_ctl_lsn_lease_state'));
    assert.ok(!families.has('compute_ctl_lsn_lease_valid_until_seconds'));
    assert.ok(!families.has('compute_ctl_cplane_requests_total'), 'a label vector appears once used');
  });

  test('a compute holding a lease has its gauges', async () => {
    const families = assertValidExposition(await render(true));
    assert.deepEqual(families.get('compute_ctl_lsn_lease_state')?.samples, ['compute_ctl_lsn_lease_state{state="held"} 1']);
    assert.deepEqual(families.get('compute_ctl_lsn_lease_valid_until_seconds')?.samples, [`compute_ctl_lsn_lease_valid_until_seconds ${at(600).getTime() / 1000}`]);
  });

  test('empty families are dropped, the others kept whole', () => {
    const text = '# HELP a_total A\n# TYPE a_total counter\n# HELP b B\n# TYPE b gauge\nb 1\n';
    assert.equal(omitEmptyFamilies(text), '# HELP b B\n# TYPE b gauge\nb 1\n');
  });
});
