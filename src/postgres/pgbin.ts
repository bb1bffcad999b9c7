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

/** Absolute real path of `postgres`: the given path or name, else PG_BIN, pg_config --bindir, /usr/lib/postgresql/<newest>/bin. */
export function findPostgres(given?: string): string {
  if (given && given.includes('/')) {
    if (!executable(given)) throw new Error(`--pgbin ${given} is not an executable file`);
    return realpathSync(given);
  }
  const name = given ?? 'postgres';
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(path.join(process.env.PG_BIN, name));
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) candidates.push(path.join(dir, name));
  try {
    candidates.push(path.join(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim(), name));
  } catch {
    // no pg_config
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(path.join('/usr/lib/postgresql', v, 'bin', name));
  } catch {
    // not a Debian layout
  }
  const found = candidates.find(executable);
  if (!found) throw new Error(`PostgreSQL binary '${name}' not found; pass --pgbin or set PG_BIN (or POSTGRES_PATH)`);
  // Siblings (initdb, pg_basebackup, …) are looked up next to the real binary, not a symlink to it.
  return realpathSync(found);
}
