// LFC prewarm and offload (§6.3) on real PostgreSQL, whose cache is shared_buffers and whose
// pg_prewarm lists and loads it: an endpoint storage served by the test (bearer token, zstd bodies),
// a compute that offloads its cache, a fresh compute that prewarms from it (pg_buffercache shows the
// table cached again), 429 and cancellation while the storage holds a request, autoprewarm with no
// state (skipped), the periodic offload, a wrong token (failed), the counters, and a hot standby
// prewarmed with the primary's pg_prewarm while /promote waits for it.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { decompress } from 'fzstd';
import { freePort } from '../../src/dev/ports';
import { recordHistories } from '../support/histories';
import { configurationRequest, json, postJson, queryRows, startCompute, startStack, until, type ComputeUnderTest, type Stack } from '../support/stack';

const TENANT = '9ef87a5bf0d92544f6fafeeb3239695c';
const TIMELINE = 'de200bd42b49cc1814412c7e592dd6e9';
const TOKEN = 'endpoint-storage-token-of-the-test';
const ROLES = [{ name: 'owner', encrypted_password: null, options: null }];
const DATABASES = [{ name: 'lfcdb', owner: 'owner', options: null }];

/** Neon's endpoint storage as far as the LFC goes: GET and PUT of objects, behind a bearer token. */
class EndpointStorage {
  readonly objects = new Map<string, Buffer>();
  readonly requests: { method: string; path: string; authorized: boolean }[] = [];
  private held: { method: string; release: Promise<void> } | null = null;
  private server!: http.Server;
  port = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const authorized = req.headers.authorization === `Bearer ${TOKEN}`;
      this.requests.push({ method: req.method!, path: req.url!, authorized });
      const held = this.held;
      if (held && held.method === req.method) await held.release;
      if (!authorized) return void res.writeHead(401).end();
      if (req.method === 'PUT') {
        this.objects.set(req.url!, Buffer.concat(chunks));
        return void res.writeHead(200).end();
      }
      const body = this.objects.get(req.url!);
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  /** Requests of `method` wait until the returned function is called. */
  hold(method: string): () => void {
    let release!: () => void;
    this.held = { method, release: new Promise<void>((r) => (release = r)) };
    return () => {
      this.held = null;
      release();
    };
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('LFC prewarm and offload on pg_prewarm (real Postgres, an endpoint storage in the test)', () => {
  let stack: Stack;
  const storage = new EndpointStorage();
  const computes: ComputeUnderTest[] = [];

  before(async () => {
    stack = await startStack();
    await storage.start();
    // The table lives upstream: every compute's basebackup has it, with the same file nodes.
    await queryRows(stack.upstream.connstring, 'CREATE DATABASE lfcdb');
    await queryRows(
      stack.upstream.connstring.replace(/\/postgres$/, '/lfcdb'),
      "CREATE TABLE hot AS SELECT g AS id, repeat('x', 200) AS payload FROM generate_series(1, 12000) g",
    );
  });
  after(async () => {
    // The lifecycles of the prewarming computes, for the replay test (RECORD_HISTORIES=1).
    for (const [i, c] of computes.slice(1).entries()) await recordHistories(c.worker.computes.client, `lfc-${i + 1}`, [`compute-${c.computeId}`]);
    for (const c of computes) await c.stop().catch(() => undefined);
    await storage.stop();
    await stack?.stop();
  });

  async function compute(extra: Record<string, unknown>, computeId?: string): Promise<ComputeUnderTest> {
    const c = await startCompute(stack, { computeId });
    computes.push(c);
    const spec = {
      tenant_id: TENANT,
      timeline_id: TIMELINE,
      endpoint_id: 'ep-lfc',
      endpoint_storage_addr: `127.0.0.1:${storage.port}`,
      endpoint_storage_token: TOKEN,
      ...extra,
    };
    const res = await c.api('/configure', postJson(configurationRequest(stack, c.pgPort, { roles: ROLES, databases: DATABASES }, spec)));
    assert.equal(res.status, 200, JSON.stringify(await json(res)));
    return c;
  }

  const lfcdb = (c: ComputeUnderTest) => c.connstr.replace(/\/postgres$/, '/lfcdb');
  const state = async (c: ComputeUnderTest, what: 'prewarm' | 'offload') => json(await c.api(`/lfc/${what}`));
  const settled = (c: ComputeUnderTest, what: 'prewarm' | 'offload', busy: string) =>
    until(`${what} settled`, async () => {
      const s = await state(c, what);
      return s.status === busy ? undefined : s;
    }, 60_000);
  /** Blocks of lfcdb's table `hot` in shared_buffers, and the table's length in blocks. */
  async function cached(c: ComputeUnderTest): Promise<{ cached: number; blocks: number }> {
    const [row] = await queryRows<{ cached: string; blocks: string }>(
      lfcdb(c),
      `SELECT (SELECT count(*) FROM pg_buffercache b WHERE b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND b.relfilenode = pg_relation_filenode('hot') AND b.relforknumber = 0) AS cached,
              pg_relation_size('hot') / current_setting('block_size')::int AS blocks`,
    );
    return { cached: Number(row.cached), blocks: Number(row.blocks) };
  }
  const counter = async (c: ComputeUnderTest, name: string) => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await c.api('/metrics')).text());
    assert.ok(m, `${name} is not in /metrics`);
    return Number(m[1]);
  };

  test('offload lists the cached blocks in the endpoint storage; a fresh compute prewarms them back into shared_buffers', async () => {
    const a = await compute({});
    assert.deepEqual(await state(a, 'offload'), { status: 'not_offloaded' });
    assert.deepEqual(await state(a, 'prewarm'), { status: 'not_prewarmed' });
    await queryRows(lfcdb(a), 'SELECT count(*) FROM hot');

    // A second offload while the storage holds the first one's upload: 429.
    const release = storage.hold('PUT');
    assert.equal((await a.api('/lfc/offload', { method: 'POST' })).status, 202);
    const second = await a.api('/lfc/offload', { method: 'POST' });
    assert.equal(second.status, 429);
    assert.deepEqual(await json(second), { error: 'Multiple requests for prewarm offload are not allowed' });
    release();
    const offloaded = await settled(a, 'offload', 'offloading');
    assert.equal(offloaded.status, 'completed', JSON.stringify(offloaded));
    for (const k of ['state_query_time_ms', 'compress_time_ms', 'state_upload_time_ms']) assert.equal(typeof offloaded[k], 'number');

    const key = `/${TENANT}/${TIMELINE}/ep-lfc/lfc_state`;
    assert.ok(storage.requests.some((r) => r.method === 'PUT' && r.path === key && r.authorized), JSON.stringify(storage.requests));
    const list = Buffer.from(decompress(storage.objects.get(key)!)).toString();
    const [{ db, node }] = await queryRows<{ db: string; node: string }>(lfcdb(a), "SELECT (SELECT oid FROM pg_database WHERE datname = 'lfcdb')::text AS db, pg_relation_filenode('hot')::text AS node");
    const hotLines = list.split('\n').filter((l) => l.startsWith(`${db},`) && l.split(',')[2] === node && l.split(',')[3] === '0');
    assert.match(list, /^<<\d+>>\n/);
    assert.ok(hotLines.length > 100, `the state lists ${hotLines.length} blocks of the table`);
    assert.equal(await counter(a, 'compute_ctl_lfc_offloads_total'), 1);
    assert.equal(await counter(a, 'compute_ctl_lfc_offload_errors_total'), 0);
    // The compute left no pg_prewarm in the user's database (its functions were the session's).
    assert.deepEqual(await queryRows(lfcdb(a), "SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'"), []);
    assert.equal((await a.api('/terminate', { method: 'POST' })).status, 200);
    await a.stop();

    // The compute restarted (a new pod, a new Postgres from a new basebackup): a cold cache, then
    // prewarmed from the stored list.
    const b = await compute({}, a.computeId);
    await queryRows(lfcdb(b), 'CREATE EXTENSION pg_buffercache');
    const cold = await cached(b);
    assert.ok(cold.cached < cold.blocks / 10, `already cached before the prewarm: ${JSON.stringify(cold)}`);

    // While the storage holds the download: a second request is refused, DELETE cancels it.
    const releaseGet = storage.hold('GET');
    assert.equal((await b.api('/lfc/prewarm', { method: 'POST' })).status, 202);
    assert.deepEqual(await state(b, 'prewarm'), { status: 'prewarming' });
    const again = await b.api('/lfc/prewarm', { method: 'POST' });
    assert.equal(again.status, 429);
    assert.deepEqual(await json(again), { error: 'Multiple requests for prewarm are not allowed' });
    assert.equal((await b.api('/lfc/prewarm', { method: 'DELETE' })).status, 202);
    assert.deepEqual(await settled(b, 'prewarm', 'prewarming'), { status: 'cancelled' });
    releaseGet();

    assert.equal((await b.api('/lfc/prewarm', { method: 'POST' })).status, 202);
    const warmed = await settled(b, 'prewarm', 'prewarming');
    assert.equal(warmed.status, 'completed', JSON.stringify(warmed));
    assert.equal(warmed.total, warmed.prewarmed + warmed.skipped);
    assert.ok(warmed.prewarmed >= hotLines.length, JSON.stringify(warmed));
    const warm = await cached(b);
    assert.equal(warm.cached, warm.blocks, `after the prewarm: ${JSON.stringify(warm)}`);
    assert.equal(await counter(b, 'compute_ctl_lfc_prewarms_total'), 2);
    assert.equal(await counter(b, 'compute_ctl_lfc_prewarm_errors_total'), 0);
  });

  test('autoprewarm with no stored state is skipped; offloads every offload_lfc_interval_seconds; from_endpoint reads another endpoint’s; a refused token is a failed prewarm', async () => {
    const c = await compute({ endpoint_id: 'ep-new', autoprewarm: true, offload_lfc_interval_seconds: 1 });
    assert.deepEqual(await settled(c, 'prewarm', 'prewarming'), { status: 'skipped' });
    const key = `/${TENANT}/${TIMELINE}/ep-new/lfc_state`;
    assert.ok(storage.requests.some((r) => r.method === 'GET' && r.path === key));
    // Nothing asked for it: the periodic offload stored the new endpoint's state.
    await until('a periodic offload', async () => (storage.objects.has(key) ? true : undefined), 30_000);
    assert.match(Buffer.from(decompress(storage.objects.get(key)!)).toString(), /^<<\d+>>\n/);
    // The pod hears of it once the round's activity has completed: a moment after the upload.
    await until('the offload state reported', async () => ((await state(c, 'offload')).status === 'completed' ? true : undefined), 30_000);

    assert.equal((await c.api('/lfc/prewarm?from_endpoint=ep-lfc', { method: 'POST' })).status, 202);
    const fromOther = await settled(c, 'prewarm', 'prewarming');
    assert.equal(fromOther.status, 'completed', JSON.stringify(fromOther));
    assert.ok(fromOther.prewarmed > 100);

    // Reconfigured with a token the storage refuses.
    // (Without offload_lfc_interval_seconds: the rounds end.)
    const spec = { tenant_id: TENANT, timeline_id: TIMELINE, endpoint_id: 'ep-new', endpoint_storage_addr: `127.0.0.1:${storage.port}`, endpoint_storage_token: 'not-the-token' };
    const res = await c.api('/configure', postJson(configurationRequest(stack, c.pgPort, { roles: ROLES, databases: DATABASES }, spec)));
    assert.equal(res.status, 200);
    assert.equal((await c.api('/lfc/prewarm?from_endpoint=ep-lfc', { method: 'POST' })).status, 202);
    const failed = await settled(c, 'prewarm', 'prewarming');
    assert.deepEqual(failed, { status: 'failed', error: '401 Unauthorized querying endpoint storage' });
    assert.equal(await counter(c, 'compute_ctl_lfc_prewarms_total'), 3);
    assert.equal(await counter(c, 'compute_ctl_lfc_prewarm_errors_total'), 1);
    // The token is nowhere in what the API says.
    assert.doesNotMatch(JSON.stringify(failed), /not-the-token/);
  });

  test('a Replica (hot standby) prewarms where the primary installed pg_prewarm, skips the rest; /promote is refused while it prewarms', async () => {
    // On the primary (the upstream): the standby gets the extensions by WAL, and cannot create anything itself.
    await queryRows(stack.upstream.connstring.replace(/\/postgres$/, '/lfcdb'), 'CREATE EXTENSION IF NOT EXISTS pg_prewarm; CREATE EXTENSION IF NOT EXISTS pg_buffercache');
    const r = await compute({ mode: 'Replica', endpoint_id: 'ep-replica' });
    assert.deepEqual(await queryRows(lfcdb(r), 'SELECT pg_is_in_recovery() AS standby'), [{ standby: true }]);
    const cold = await cached(r);
    assert.ok(cold.cached < cold.blocks / 10, `already cached: ${JSON.stringify(cold)}`);

    const release = storage.hold('GET');
    assert.equal((await r.api('/lfc/prewarm?from_endpoint=ep-lfc', { method: 'POST' })).status, 202);
    const [{ lsn }] = await queryRows<{ lsn: string }>(stack.upstream.connstring, 'SELECT pg_current_wal_flush_lsn()::text AS lsn');
    const primarySpec = configurationRequest(stack, r.pgPort).spec;
    const refused = await r.api('/promote', postJson({ spec: primarySpec, wal_flush_lsn: lsn }));
    assert.equal(refused.status, 500);
    assert.deepEqual(await json(refused), { status: 'failed', error: 'compute Prewarming' });
    assert.equal((await json(await r.api('/status'))).mode, 'replica');
    release();

    const warmed = await settled(r, 'prewarm', 'prewarming');
    assert.equal(warmed.status, 'completed', JSON.stringify(warmed));
    // lfcdb's blocks were read with the replicated extension; the system database has none on this
    // standby, so its blocks (and the shared catalogs') were skipped.
    assert.ok(warmed.skipped > 0 && warmed.prewarmed > 0, JSON.stringify(warmed));
    const warm = await cached(r);
    assert.equal(warm.cached, warm.blocks, `after the prewarm: ${JSON.stringify(warm)}`);
  });
});
