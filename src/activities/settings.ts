// What the activities of one worker know about its compute: the in-pod process's flags.
import path from 'node:path';
import type { ConfigSource } from '../compute-config/source';
import type { RunAs } from '../postgres/os';
import type { StorageContext } from '../storage';

export interface ComputeSettings {
  computeId: string;
  /** Where the config is fetched again on a refresh (§10). */
  configSource: ConfigSource;
  pgdata: string;
  /** Path of the `postgres` binary; its siblings (pg_basebackup, …) are found next to it. */
  postgres: string;
  /** The local Postgres as superuser, e.g. postgresql://cloud_admin@127.0.0.1:55432/postgres */
  connstr: string;
  runAs: RunAs | null;
  internalHttpPort: number;
  privilegedRoleName: string;
}

export function storageContext(s: ComputeSettings): StorageContext {
  return { pgdata: s.pgdata, postgres: s.postgres, pgbinDir: path.dirname(s.postgres), runAs: s.runAs };
}
