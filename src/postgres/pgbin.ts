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
  let known = majors.get(postgres);
  if (!known) {
    known = majorOf(postgres);
    majors.set(postgres, known);
    known.catch(() => majors.delete(postgres));
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

const libraryDirs = new Map<string, Promise<string>>();

/**
 * The server's library directory (`pg_config --pkglibdir`; without a pg_config beside the server, as
 * in the embedded builds, `../lib/postgresql` or `../lib` of its bin directory, whichever holds
 * plpgsql): where shared_preload_libraries are looked for.
 */
export function libraryDir(postgres: string): Promise<string> {
  let known = libraryDirs.get(postgres);
  if (!known) {
    known = findLibraryDir(postgres);
    libraryDirs.set(postgres, known);
    known.catch(() => libraryDirs.delete(postgres));
  }
  return known;
}

async function findLibraryDir(postgres: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  const pgConfig = path.join(path.dirname(postgres), 'pg_config');
  if (executable(pgConfig)) {
    return new Promise<string>((resolve, reject) =>
      execFile(pgConfig, ['--pkglibdir'], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
    );
  }
  const candidates = ['../lib/postgresql', '../lib'].map((rel) => path.resolve(path.dirname(postgres), rel));
  const { access } = await import('node:fs/promises');
  for (const dir of candidates) if (await access(path.join(dir, 'plpgsql.so')).then(() => true, () => false)) return dir;
  throw new Error(`cannot find the library directory of ${postgres} (looked in ${candidates.join(', ')})`);
}

/** Whether the server has the shared library `name` (e.g. pgaudit, neon); false where its library directory is unknown. */
export async function hasLibrary(postgres: string, name: string): Promise<boolean> {
  const { access } = await import('node:fs/promises');
  const dir = await libraryDir(postgres).catch(() => null);
  return dir !== null && access(path.join(dir, `${name}.so`)).then(() => true, () => false);
}

/**
 * The server's share directory (`pg_config --sharedir`; else `../share/postgresql` or `../share` of
 * its bin directory, whichever holds extension/plpgsql.control): where extensions' control files are.
 */
export async function shareDir(postgres: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  const pgConfig = path.join(path.dirname(postgres), 'pg_config');
  if (executable(pgConfig)) {
    return new Promise<string>((resolve, reject) =>
      execFile(pgConfig, ['--sharedir'], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
    );
  }
  const candidates = ['../share/postgresql', '../share'].map((rel) => path.resolve(path.dirname(postgres), rel));
  const { access } = await import('node:fs/promises');
  for (const dir of candidates) if (await access(path.join(dir, 'extension', 'plpgsql.control')).then(() => true, () => false)) return dir;
  throw new Error(`cannot find the share directory of ${postgres} (looked in ${candidates.join(', ')})`);
}
