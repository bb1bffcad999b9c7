// What a storage backend provides to the startup and termination steps.
import type { ParsedSpec } from '../compute-spec/parse';
import type { RunAs } from '../postgres/os';

export interface StorageContext {
  pgdata: string;
  /** The postgres binary (Neon's build also does `--sync-safekeepers`). */
  postgres: string;
  /** Directory of the PostgreSQL binaries. */
  pgbinDir: string;
  runAs: RunAs | null;
}

export interface BasebackupResult {
  /** Bytes received (compressed bytes for Neon, on-disk bytes for the postgres backend). */
  bytes: number;
  connectMicros: number;
}

export interface StartLsn {
  lsn: string;
  /** Time of the quorum check (sync_sk_check_ms) and of the sync itself (sync_safekeepers_ms). */
  checkMs: number;
  syncMs: number;
}

export interface StorageBackend {
  /** The LSN a Primary starts from (§4.4). */
  primaryStartLsn(parsed: ParsedSpec, ctx: StorageContext): Promise<StartLsn>;
  /** Fills the (wiped) PGDATA with a basebackup at `lsn` ('0/0' = latest), keeping postgresql.conf. */
  basebackup(parsed: ParsedSpec, lsn: string, ctx: StorageContext): Promise<BasebackupResult>;
  /** After Postgres stopped: the LSN to report from /terminate (Primary only), or null. */
  finalLsn(parsed: ParsedSpec, ctx: StorageContext): Promise<string | null>;
}
