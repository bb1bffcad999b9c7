// Remote extensions (-r): an HTTP server in the test is the archive store, serving zstd tarballs the
// test builds: a SQL-only extension, and a library (a copy of contrib's auto_explain under a new
// name) that the spec preloads. The control file is written at the start, the preloaded library is
// downloaded before Postgres starts (which then runs with it), and POST /extension_server makes
// CREATE EXTENSION work; unknown, not allowed, no spec and no -r get their statuses.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/dev/ports';
import { libraryDir, shareDir } from '../../src/postgres/pgbin';
import { configurationRequest, json, postJson, queryRows, until } from '../support/stack';
import { useWorkerProcesses, type ComputeSlot, type WorkerProcess } from '../support/worker-process';

const ext = `ccx_remote_${process.pid}`;
const libExt = `ccx_remote_lib_${process.pid}`;
const lib = `ccx_preload_${process.pid}`;
const CONTROL = "default_version = '1.0'\ncomment = 'a remote extension of the tests'\nrelocatable = true\n";

describe('remote extensions', () => {
  const t = useWorkerProcesses();
  let store: Server;
  let storeUrl: string;
  const hits = new Map<string, number>();
  const archives = new Map<string, Buffer>();
  let installed: string[] = [];

  /** share/extension/* and lib/* of `files` as a .tar.zst (tar and zstd of the OS, as a build would make it). */
  async function archive(name: string, files: Record<string, string | { copyOf: string }>): Promise<Buffer> {
    const dir = path.join(t.stack.tmp, `archive-${name}`);
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      if (typeof content === 'string') await writeFile(path.join(dir, file), content);
      else await copyFile(content.copyOf, path.join(dir, file));
    }
    const out = path.join(t.stack.tmp, `${name}.tar.zst`);
    execFileSync('sh', ['-c', `tar -C '${dir}' -cf - . | zstd -q -f -o '${out}'`]);
    return readFile(out);
  }

  before(async () => {
    const [share, libdir] = [await shareDir(t.stack.postgres), await libraryDir(t.stack.postgres)];
    installed = [
      path.join(share, 'extension', `${ext}.control`),
      path.join(share, 'extension', `${ext}--1.0.sql`),
      path.join(share, 'extension', `${libExt}.control`),
      path.join(libdir, `${lib}.so`),
    ];
    const prefix = '/store/test-build/amd64/v15/extensions';
    archives.set(`${prefix}/${ext}.tar.zst`, await archive(ext, {
      [`share/extension/${ext}--1.0.sql`]: `CREATE FUNCTION ${ext}_hello() RETURNS text LANGUAGE sql AS $$ SELECT 'hello from the store' $$;\n`,
    }));
    archives.set(`${prefix}/${libExt}.tar.zst`, await archive(libExt, { [`lib/${lib}.so`]: { copyOf: path.join(libdir, 'auto_explain.so') } }));
    const port = await freePort();
    store = createServer((req, res) => {
      hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
      const body = archives.get(req.url!);
      // Slow enough that a second request for the same archive arrives while the first is served.
      setTimeout(() => (body ? res.writeHead(200).end(body) : res.writeHead(404).end('no such key')), 300);
    });
    await new Promise<void>((resolve) => store.listen(port, '127.0.0.1', resolve));
    storeUrl = `http://127.0.0.1:${port}/store//`;
  });
  after(async () => {
    store?.close();
    await Promise.all(installed.map((f) => rm(f, { force: true })));
    // The pod's staging directory beside the server, empty once each download is installed.
    await import('node:fs/promises').then((fs) => fs.rmdir(path.resolve(path.dirname(t.stack.postgres), '..', 'download_extensions')).catch(() => undefined));
  });

  async function pod(name: string, args: string[]): Promise<{ slot: ComputeSlot; w: WorkerProcess }> {
    const slot = await t.slot(`${name}-${process.pid}`);
    const w = t.spawn(slot, { args, env: { BUILD_TAG: 'test-build' } });
    await until(`${name}'s API`, async () => ((await w.api('/status').catch(() => null))?.ok ? true : undefined), 60_000);
    return { slot, w };
  }

  const remoteExtensions = {
    public_extensions: [ext, libExt],
    custom_extensions: [],
    library_index: { [lib]: libExt },
    extension_data: {
      [ext]: { control_data: { [`${ext}.control`]: CONTROL }, archive_path: `test-build/v15/extensions/${ext}.tar.zst` },
      [libExt]: { control_data: { [`${libExt}.control`]: CONTROL }, archive_path: `test-build/v15/extensions/${libExt}.tar.zst` },
    },
  };

  const internal = (slot: ComputeSlot, name: string, query = '') => fetch(`http://127.0.0.1:${slot.int}/extension_server/${name}${query}`, { method: 'POST' });

  const sql = <T>(slot: ComputeSlot, text: string) => queryRows<T>(slot.connstr, text);

  test('control files at the start, the preloaded library before Postgres starts, an extension on request', async () => {
    const { slot, w } = await pod('remote', ['-r', storeUrl]);
    const settings = [{ name: 'shared_preload_libraries', value: lib, vartype: 'string' }];
    const res = await w.api('/configure', postJson(configurationRequest(t.stack, slot.pgPort, { settings }, { remote_extensions: remoteExtensions })));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    // Postgres runs with the library it could only have from the store.
    assert.equal((await sql<{ l: string }>(slot, "SELECT current_setting('shared_preload_libraries') AS l"))[0].l, lib);
    assert.equal(hits.get(`/store/test-build/amd64/v15/extensions/${libExt}.tar.zst`), 1);
    assert.equal(body.startup_metrics.num_ext_downloaded, 1);
    assert.ok(body.startup_metrics.total_ext_download_size > 0);
    assert.equal((await stat(installed[0])).mode & 0o777, 0o644, 'the control file is written at the start');

    // The extension's script is not there until Postgres (here: the test, as the neon extension would) asks.
    await assert.rejects(sql(slot, `CREATE EXTENSION ${ext}`), /has no installation script/);
    const [first, second] = await Promise.all([internal(slot, ext), internal(slot, ext)]);
    assert.deepEqual([first.status, second.status], [200, 200]);
    assert.equal(hits.get(`/store/test-build/amd64/v15/extensions/${ext}.tar.zst`), 1, 'a concurrent request waits for the first download');
    await sql(slot, `CREATE EXTENSION ${ext}`);
    assert.equal((await sql<{ h: string }>(slot, `SELECT ${ext}_hello() AS h`))[0].h, 'hello from the store');
    // A library is asked for by its file name.
    assert.equal((await internal(slot, `${lib}.so`, '?is_library=true')).status, 200);

    const unknown = await internal(slot, 'not_in_the_spec');
    assert.equal(unknown.status, 404);
    assert.match((await json(unknown)).error, /extension "not_in_the_spec" is not allowed by the spec/);
    const unknownLib = await internal(slot, 'nolib.so', '?is_library=true');
    assert.equal(unknownLib.status, 404);
    assert.match((await json(unknownLib)).error, /library "nolib" is not in the spec's library_index/);
    const metrics = await (await w.api('/metrics')).text();
    assert.match(metrics, new RegExp(`compute_ctl_remote_ext_requests_total\\{filename="${ext}.tar.zst",http_status="200"\\} 2`));
    assert.match(metrics, /compute_ctl_remote_ext_requests_total\{filename="not_in_the_spec.tar.zst",http_status="404"\} 1/);
  });

  test('no spec yet: 409; no -r: 412; an archive the store lacks: 500 with its text', async () => {
    const empty = await pod('remote-empty', ['-r', storeUrl]);
    const unavailable = await internal(empty.slot, ext);
    assert.equal(unavailable.status, 409);
    assert.deepEqual(await json(unavailable), { error: 'information about remote extensions is unavailable' });

    const none = await pod('remote-none', []);
    const notConfigured = await internal(none.slot, ext);
    assert.equal(notConfigured.status, 412);
    assert.deepEqual(await json(notConfigured), { error: 'remote storage is not configured' });

    const missing = { ...remoteExtensions, public_extensions: ['ccx_missing'], extension_data: {} };
    assert.equal((await empty.w.api('/configure', postJson(configurationRequest(t.stack, empty.slot.pgPort, {}, { remote_extensions: missing })))).status, 200);
    const failed = await internal(empty.slot, 'ccx_missing');
    assert.equal(failed.status, 500);
    assert.match((await json(failed)).error, /failed to download ccx_missing\.tar\.zst: GET http:\/\/127\.0\.0\.1:\d+\/store\/test-build\/amd64\/v15\/extensions\/ccx_missing\.tar\.zst: HTTP 404/);
  });
});
