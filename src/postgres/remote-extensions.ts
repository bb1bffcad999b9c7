// Remote extensions (reference §2 -r, §3 remote_extensions, §4.2, §6.4 /extension_server): the
// extensions a spec allows are installed into the server's own directories from an archive store,
// `{base}/{BUILD_TAG}/{amd64|arm64}/{v14..v17}/extensions/{ext}.tar.zst` (a tar of share/extension/*
// and lib/*). Control files come from the spec at a start; the archives when Postgres asks (or, for
// preloaded libraries, before it starts). One per pod: the start step gives it the spec, the
// internal route asks it for downloads.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { RemoteExtSpec } from '../compute-spec/schema';
import { libraryDir, postgresMajorVersion, shareDir, versionName } from './pgbin';

export type { RemoteExtSpec } from '../compute-spec/schema';

/** The extension whose archive holds a library, by library_index (own keys only: not `constructor`). */
function ownerOf(spec: RemoteExtSpec, library: string): string | undefined {
  return Object.hasOwn(spec.library_index, library) ? spec.library_index[library] : undefined;
}

/** A request the extension server refuses: its HTTP status and text. */
export class ExtensionRequestError extends Error {
  constructor(
    readonly status: 404 | 409 | 412 | 500,
    message: string,
  ) {
    super(message);
  }
}

/** Libraries compute-ctl never downloads (§4.2): part of the image. */
const BUILT_IN_LIBRARIES = new Set(['neon', 'databricks_auth']);
/** A concurrent request for the same archive waits this long for the first (§6.4). */
const CONCURRENT_WAIT_MS = 3_000;

/** `-r`'s value: trailing slashes collapsed to one, no query (§2). Throws on a bad URL. */
export function normalizeBaseUrl(url: string): string {
  const u = new URL(url);
  if (!/^https?:$/.test(u.protocol)) throw new Error(`--remote-ext-base-url ${url}: not an http(s) URL`);
  if (u.search) throw new Error(`--remote-ext-base-url ${url}: a URL with query parameters is not accepted`);
  return `${u.toString().replace(/\/+$/, '')}/`;
}

/** The libraries `shared_preload_libraries` names, from the spec's settings and its postgresql_conf. */
export function preloadLibraries(settingsValue: string | null, postgresqlConf: string | null | undefined): string[] {
  const fromConf = [...(postgresqlConf ?? '').matchAll(/^\s*shared_preload_libraries\s*=\s*'([^']*)'/gm)].map((m) => m[1]);
  return [...new Set([settingsValue ?? '', ...fromConf].flatMap((v) => v.split(',')).map((l) => l.trim().replace(/^"|"$/g, '')).filter(Boolean))];
}

export interface DownloadReport {
  ext: string;
  bytes: number;
}

export class RemoteExtensions {
  private spec: RemoteExtSpec | null = null;
  private readonly inFlight = new Map<string, Promise<DownloadReport>>();

  constructor(
    private readonly o: {
      /** normalizeBaseUrl'd, or null without -r. */
      baseUrl: string | null;
      buildTag: string;
      postgres: string;
      /** Each answered request: compute_ctl_remote_ext_requests_total. */
      onRequest?: (filename: string, status: number) => void;
    },
  ) {}

  /** The spec's remote_extensions (a start, a reconfiguration). */
  setSpec(spec: RemoteExtSpec | null | undefined): void {
    this.spec = spec ?? null;
  }

  private allowed(ext: string): boolean {
    const s = this.spec;
    return Boolean(s && [...(s.public_extensions ?? []), ...(s.custom_extensions ?? [])].includes(ext));
  }

  /** POST /extension_server/{filename}[?is_library=true]: the extension it names, downloaded and installed. */
  async request(filename: string, isLibrary: boolean): Promise<void> {
    let status = 200;
    let archive = `${isLibrary ? filename.replace(/\.so$/, '') : filename}.tar.zst`;
    try {
      if (!this.o.baseUrl) throw new ExtensionRequestError(412, 'remote storage is not configured');
      if (!this.spec) throw new ExtensionRequestError(409, 'information about remote extensions is unavailable');
      let ext = filename;
      if (isLibrary) {
        const lib = filename.replace(/\.so$/, '');
        const owner = ownerOf(this.spec, lib);
        if (!owner) throw new ExtensionRequestError(404, `library ${JSON.stringify(lib)} is not in the spec's library_index`);
        ext = owner;
      }
      archive = `${ext}.tar.zst`;
      if (!this.allowed(ext)) throw new ExtensionRequestError(404, `extension ${JSON.stringify(ext)} is not allowed by the spec (public_extensions, custom_extensions)`);
      await this.download(ext);
    } catch (err) {
      status = err instanceof ExtensionRequestError ? err.status : 500;
      throw err instanceof ExtensionRequestError ? err : new ExtensionRequestError(500, `failed to download ${archive}: ${(err as Error).message}`);
    } finally {
      this.o.onRequest?.(archive, status);
    }
  }

  /** The archive of `ext` downloaded and installed; a download of it already under way is waited for (up to 3 s). */
  async download(ext: string): Promise<DownloadReport> {
    // A name becomes a path under the staging directory and a URL segment.
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(ext)) throw new Error(`${JSON.stringify(ext)} is not an extension name`);
    const running = this.inFlight.get(ext);
    if (running) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`another download of ${ext} did not finish within ${CONCURRENT_WAIT_MS / 1000} s`)), CONCURRENT_WAIT_MS);
      });
      try {
        return await Promise.race([running, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    const started = this.fetchAndInstall(ext).finally(() => this.inFlight.delete(ext));
    this.inFlight.set(ext, started);
    return started;
  }

  private async archiveUrl(ext: string): Promise<string> {
    const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
    const major = versionName(await postgresMajorVersion(this.o.postgres));
    return new URL(`${encodeURIComponent(this.o.buildTag)}/${arch}/${major}/extensions/${encodeURIComponent(ext)}.tar.zst`, this.o.baseUrl!).toString();
  }

  private async fetchAndInstall(ext: string): Promise<DownloadReport> {
    if (!this.o.baseUrl) throw new Error('remote storage is not configured');
    const url = await this.archiveUrl(ext);
    const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const compressed = new Uint8Array(await res.arrayBuffer());
    const { decompress } = await import('fzstd');
    const tarball = decompress(compressed);
    // Unpacked beside the server, then moved into its directories (§6.4: <prefix>/download_extensions).
    const staging = path.resolve(path.dirname(this.o.postgres), '..', 'download_extensions', ext);
    await fs.rm(staging, { recursive: true, force: true });
    await fs.mkdir(staging, { recursive: true });
    try {
      await pipeline(Readable.from([Buffer.from(tarball)]), new tar.Unpack({ cwd: staging, strict: true }));
      const [share, lib] = await Promise.all([shareDir(this.o.postgres), libraryDir(this.o.postgres)]);
      await moveFiles(path.join(staging, 'share', 'extension'), path.join(share, 'extension'));
      await moveFiles(path.join(staging, 'lib'), lib);
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
    return { ext, bytes: compressed.byteLength };
  }

  /**
   * A start's part (§4.2 step 2): the spec kept for later requests, the allowed extensions' control
   * files written (never over an existing one), and the archives of the preloaded libraries the
   * library_index names downloaded before Postgres starts. Download failures are reported, not thrown.
   */
  async prepareForStart(spec: RemoteExtSpec, libraries: string[]): Promise<{ downloaded: DownloadReport[]; failures: string[] }> {
    this.setSpec(spec);
    const dir = path.join(await shareDir(this.o.postgres), 'extension');
    for (const [ext, data] of Object.entries(spec.extension_data)) {
      if (!this.allowed(ext)) continue;
      for (const [file, text] of Object.entries(data.control_data)) {
        if (path.basename(file) !== file || !file.endsWith('.control')) throw new Error(`extension ${ext}: ${JSON.stringify(file)} is not a control file name`);
        await fs.writeFile(path.join(dir, file), text, { flag: 'wx', mode: 0o644 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      }
    }
    const wanted = [...new Set(libraries.filter((l) => !BUILT_IN_LIBRARIES.has(l)).map((l) => ownerOf(spec, l)).filter((e): e is string => Boolean(e)))];
    const downloaded: DownloadReport[] = [];
    const failures: string[] = [];
    for (const ext of wanted) {
      try {
        downloaded.push(await this.download(ext));
      } catch (err) {
        failures.push(`${ext}: ${(err as Error).message}`);
      }
    }
    return { downloaded, failures };
  }
}

/** Every file of `from` moved into `to` (copied: they may be on different filesystems), readable by Postgres. */
async function moveFiles(from: string, to: string): Promise<void> {
  const entries = await fs.readdir(from, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    await fs.copyFile(path.join(from, e.name), path.join(to, e.name));
    await fs.chmod(path.join(to, e.name), 0o644);
  }
}
