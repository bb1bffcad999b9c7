// Locating the PostgreSQL server binaries (the same search as scripts/setup.sh).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where PostgreSQL's programs are looked for, in order: PG_BIN, then (for the server) PATH, then
 * `pg_config --bindir`, then /usr/lib/postgresql/<newest>/bin (the same search as scripts/setup.sh).
 */
function binDirs(withPath: boolean): string[] {
  const dirs: string[] = [];
  if (process.env.PG_BIN) dirs.push(process.env.PG_BIN);
  if (withPath) dirs.push(...(process.env.PATH ?? '').split(':').filter(Boolean));
  try {
    dirs.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(path.join('/usr/lib/postgresql', v, 'bin'));
  } catch {
    // not a Debian layout
  }
  return dirs;
}

/** Absolute real path of `postgres`: the given path or name, else PG_BIN, PATH, pg_config --bindir, /usr/lib/postgresql/<newest>/bin. */
export function findPostgres(given?: string): string {
  if (given && given.includes('/')) {
    if (!executable(given)) throw new Error(`--pgbin ${given} is not an executable file`);
    return realpathSync(given);
  }
  const name = given ?? 'postgres';
  const found = binDirs(true)
    .map((dir) => path.join(dir, name))
    .find(executable);
  if (!found) throw new Error(`PostgreSQL binary '${name}' not found; pass --pgbin or set PG_BIN (or POSTGRES_PATH)`);
  // Siblings (initdb, pg_basebackup, …) are looked up next to the real binary, not a symlink to it.
  return realpathSync(found);
}

/** Versions of PostgreSQL this supervisor runs (as Neon's compute images: v14 to v17). */
export const SUPPORTED_MAJORS = [14, 15, 16, 17] as const;

const majors = new Map<string, Promise<number>>();

/**
 * The major version of the server `postgres` is (§1: Neon reads `pg_config --version`; `postgres
 * --version` serves where there is no pg_config beside it, as in the embedded builds).
 */
export function postgresMajorVersion(postgres: string): Promise<number> {
  return remembered(majors, postgres, () => majorOf(postgres));
}

/** A server's fact found once per process; a failed search is tried again next time. */
function remembered<T>(cache: Map<string, Promise<T>>, key: string, find: () => Promise<T>): Promise<T> {
  let known = cache.get(key);
  if (!known) {
    known = find();
    cache.set(key, known);
    known.catch(() => cache.delete(key));
  }
  return known;
}

/** What a PostgreSQL program says to `--version` ("postgres (PostgreSQL) 17.10"), and its major (null if none). */
async function reportedVersion(file: string): Promise<{ text: string; major: number | null }> {
  const { execFile } = await import('node:child_process');
  const text = await new Promise<string>((resolve, reject) =>
    execFile(file, ['--version'], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const m = /PostgreSQL\)?\s+(\d+)(?:\.\d+)?/.exec(text);
  return { text, major: m ? Number(m[1]) : null };
}

async function majorOf(postgres: string): Promise<number> {
  const pgConfig = path.join(path.dirname(postgres), 'pg_config');
  const { text, major } = executable(pgConfig) ? await reportedVersion(pgConfig).catch(() => reportedVersion(postgres)) : await reportedVersion(postgres);
  if (major === null) throw new Error(`cannot tell the PostgreSQL version of ${postgres} from ${JSON.stringify(text.trim())}`);
  if (!(SUPPORTED_MAJORS as readonly number[]).includes(major)) {
    throw new Error(`${postgres} is PostgreSQL ${major}; compute-ctl runs PostgreSQL ${SUPPORTED_MAJORS.join(', ')}`);
  }
  return major;
}

/** `v17`, as Neon names a major version (§1). */
export function versionName(major: number): string {
  return `v${major}`;
}

/**
 * A client program (`pg_basebackup`, `pg_controldata`) for the server `postgres` is: its sibling,
 * else one of the same major or newer found where findPostgres looks (these tools read older
 * servers; the embedded builds ship none). Null when there is none.
 */
export async function findClientProgram(postgres: string, name: string): Promise<string | null> {
  const sibling = path.join(path.dirname(postgres), name);
  if (executable(sibling)) return sibling;
  const major = await postgresMajorVersion(postgres);
  const found: { file: string; major: number }[] = [];
  for (const dir of new Set(binDirs(false))) {
    const file = path.join(dir, name);
    if (!executable(file)) continue;
    const theirs = (await reportedVersion(file).catch(() => null))?.major ?? null;
    if (theirs !== null && theirs >= major) found.push({ file, major: theirs });
  }
  // The closest version: the same major when there is one.
  found.sort((a, b) => a.major - b.major);
  return found[0]?.file ?? null;
}

/**
 * Where a server keeps its libraries (shared_preload_libraries) and its shared files (extensions'
 * control files): `pg_config --pkglibdir` / `--sharedir` beside the server, else (the embedded
 * builds have no pg_config) the candidate below its bin directory that holds a file always there.
 */
const INSTALL_DIRS = {
  pkglibdir: { candidates: ['../lib/postgresql', '../lib'], marker: 'plpgsql.so' },
  sharedir: { candidates: ['../share/postgresql', '../share'], marker: 'extension/plpgsql.control' },
} as const;
const installDirs = new Map<string, Promise<string>>();

function installDir(postgres: string, kind: keyof typeof INSTALL_DIRS): Promise<string> {
  return remembered(installDirs, `${kind} ${postgres}`, async () => {
    const { execFile } = await import('node:child_process');
    const pgConfig = path.join(path.dirname(postgres), 'pg_config');
    if (executable(pgConfig)) {
      return new Promise<string>((resolve, reject) =>
        execFile(pgConfig, [`--${kind}`], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
      );
    }
    const { candidates, marker } = INSTALL_DIRS[kind];
    const dirs = candidates.map((rel) => path.resolve(path.dirname(postgres), rel));
    const { access } = await import('node:fs/promises');
    for (const dir of dirs) if (await access(path.join(dir, marker)).then(() => true, () => false)) return dir;
    throw new Error(`cannot find the ${kind} of ${postgres} (looked in ${dirs.join(', ')})`);
  });
}

export const libraryDir = (postgres: string): Promise<string> => installDir(postgres, 'pkglibdir');
export const shareDir = (postgres: string): Promise<string> => installDir(postgres, 'sharedir');

/** Whether the server has the shared library `name` (e.g. pgaudit, neon); false where its library directory is unknown. */
export async function hasLibrary(postgres: string, name: string): Promise<boolean> {
  const { access } = await import('node:fs/promises');
  const dir = await libraryDir(postgres).catch(() => null);
  return dir !== null && access(path.join(dir, `${name}.so`)).then(() => true, () => false);
}

