// `npm run bench -- catalog [N]`: the first-start catalog apply of N roles + N databases (each
// database owned by one of the roles) on a fresh cluster, then the same spec again (a no-op).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createActivities } from '../src/activities';
import { chown, resolveRunAs } from '../src/postgres/os';
import { freePort } from '../src/dev/ports';
import { startUpstream } from '../src/dev/upstream';
import { findPostgres } from '../src/postgres/pgbin';
import { parseConfigurationRequest } from '../src/compute-spec/parse';

export async function benchCatalog(n: number): Promise<void> {
  const postgres = findPostgres();
  const runAs = resolveRunAs('postgres');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'compute-ctl-bench-catalog-'));
  await chmod(tmp, 0o755);
  await chown(tmp, runAs);
  const pgdata = path.join(tmp, 'pgdata');
  const port = await freePort();
  const cluster = await startUpstream({ pgdata, port, postgres, runAs });
  try {
    const acts = createActivities({
      pgdata, postgres, connstr: cluster.connstring, runAs, internalHttpPort: 0, privilegedRoleName: 'neon_superuser',
    });
    const parsed = parseConfigurationRequest({
      compute_ctl_config: { jwks: { keys: [] } },
      spec: {
        format_version: 1,
        suspend_timeout_seconds: -1,
        storage: { type: 'postgres', connstring: 'postgresql://unused@127.0.0.1/postgres' },
        cluster: {
          roles: Array.from({ length: n }, (_, i) => ({ name: `user ${i}`, encrypted_password: `${i}`.padStart(32, '0'), options: null })),
          databases: Array.from({ length: n }, (_, i) => ({ name: `db ${i}`, owner: `user ${i}`, options: null })),
          settings: [{ name: 'max_connections', value: '100', vartype: 'integer' }],
        },
      },
    });
    const t0 = performance.now();
    const first = await acts.applyCatalog(parsed);
    const t1 = performance.now();
    const again = await acts.applyCatalog(parsed);
    const t2 = performance.now();
    console.log(`\n${n} roles + ${n} databases, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, PostgreSQL (fsync=off)`);
    console.log(`from scratch        ${(t1 - t0).toFixed(0).padStart(6)} ms  (${first.statements} statements)`);
    console.log(`same spec again     ${(t2 - t1).toFixed(0).padStart(6)} ms  (${again.statements} statements)`);
    console.log(`phases from scratch: ${first.phases.map((p) => `${p.name} ${p.ms}`).join(', ')}`);
    console.log(`phases again:        ${again.phases.map((p) => `${p.name} ${p.ms}`).join(', ')}`);
  } finally {
    await cluster.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
