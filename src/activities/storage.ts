// The steps that talk to the compute's storage: start LSN (§4.4), basebackup (§4.5), the final LSN
// (§9) and LSN leases (§8.2).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ComputeFailure, FAILURE } from '../compute/failures';
import { postgresMajorVersion } from '../postgres/pgbin';
import { stopPostmaster } from '../postgres/postmaster';
import type { ParsedSpec } from '../compute-spec/parse';
import { storageFor, type BasebackupResult, type StartLsn } from '../storage';
import { acquireLeases, type LeaseOutcome } from '../storage/neon';
import { storageContext, type ComputeSettings } from './settings';

export function storageActivities(s: ComputeSettings) {
  return {
    /** §4.4: Primary asks the storage; Static uses its LSN; Replica starts from the latest (0/0). */
    async determineStartLsn(parsed: ParsedSpec): Promise<StartLsn> {
      if (parsed.mode.type === 'static') return { lsn: parsed.mode.lsn, checkMs: 0, syncMs: 0 };
      if (parsed.mode.type === 'replica') return { lsn: '0/0', checkMs: 0, syncMs: 0 };
      return storageFor(parsed).primaryStartLsn(parsed, storageContext(s));
    },

    /** §8.2: one round of LSN leases for a Static compute (the lease workflow loops). */
    async acquireLeases(parsed: ParsedSpec): Promise<LeaseOutcome> {
      if (parsed.mode.type !== 'static') throw ComputeFailure.permanent(FAILURE.notStatic, 'only Static computes hold LSN leases');
      return acquireLeases(parsed, parsed.mode.lsn);
    },

    /**
     * §4.5; a basebackup of another major version than our server's is refused before Postgres
     * starts. Run again after later steps (Temporal lost their completions), it finds the
     * postmaster they started and stops it before PGDATA is replaced under it.
     */
    async fetchBasebackup(parsed: ParsedSpec, lsn: string): Promise<BasebackupResult> {
      await stopPostmaster(s.pgdata, 'SIGQUIT', 30_000); // none running: nothing to do
      const result = await storageFor(parsed).basebackup(parsed, lsn, storageContext(s));
      const [found, ours] = await Promise.all([readFile(path.join(s.pgdata, 'PG_VERSION'), 'utf8').catch(() => null), postgresMajorVersion(s.postgres)]);
      if (found === null) throw ComputeFailure.permanent(FAILURE.basebackupFailed, 'the basebackup holds no PG_VERSION: it is not a PostgreSQL data directory');
      if (found.trim() !== String(ours)) {
        throw ComputeFailure.permanent(
          FAILURE.basebackupFailed,
          `the basebackup is of PostgreSQL ${found.trim()} (its PG_VERSION), but ${s.postgres} is PostgreSQL ${ours}: the compute needs binaries of the data's major version`,
        );
      }
      return result;
    },

    /** After Postgres stopped: the LSN /terminate reports (Primary only). */
    async finalLsn(parsed: ParsedSpec): Promise<string | null> {
      return storageFor(parsed).finalLsn(parsed, storageContext(s));
    },
  };
}
