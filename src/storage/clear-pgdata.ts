// PGDATA before a basebackup (reference §4.3: wiped, postgresql.conf written first).
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Removes what a previous attempt extracted, keeping postgresql.conf (written before). */
export async function clearForBasebackup(pgdata: string): Promise<void> {
  for (const name of await fs.readdir(pgdata)) {
    if (name !== 'postgresql.conf') await fs.rm(path.join(pgdata, name), { recursive: true, force: true });
  }
}
