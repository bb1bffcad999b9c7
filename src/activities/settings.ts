// What the activities of one worker know about its compute: the in-pod process's flags.
import path from 'node:path';
import type { ConfigSource } from '../compute-config/source';
import type { RunAs } from '../postgres/os';
import type { TlsFiles } from '../postgres/tls';
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
  /** compute_ctl_config.tls of the pod's startup config: the key and certificate Postgres serves with tls_experimental. */
  tls?: TlsFiles | null;
  /** What Postgres' neighbours in the pod are and where (spec fields act on them); defaults: Neon's. */
  neighbours?: Partial<PodNeighbours>;
}

/**
 * Postgres' neighbours in the pod that spec fields configure (reference §2, §3): pgbouncer
 * (pgbouncer_settings), local_proxy (local_proxy_config), and the VM's helpers for swap_size_bytes
 * and disk_quota_bytes, which run only when their flag is given.
 */
export interface PodNeighbours {
  pgbouncerIni: string;
  /** pgbouncer's admin console, as a postgres URL (database pgbouncer). */
  pgbouncerAdmin: string;
  /** pgbouncer's pid file: it is killed when the compute terminates (§9). */
  pgbouncerPid: string;
  localProxyConfig: string;
  localProxyPid: string;
  /** --resize-swap-on-bind: the helper's command, run with `--once <bytes>`; null when off. */
  resizeSwap: string[] | null;
  /** --set-disk-quota-for-fs: the helper's command, run with `<KiB> <mountpoint>`; null when off. */
  diskQuota: { command: string[]; mountpoint: string } | null;
}

/**
 * Neon's places (§2): under AUTOSCALING (a VM) pgbouncer's ini is /etc/pgbouncer.ini and its console
 * is reached on /tmp as user pgbouncer; else /var/db/postgres/pgbouncer/pgbouncer.ini and localhost
 * as postgres (password PGBOUNCER_PASSWORD).
 */
export function defaultNeighbours(env: NodeJS.ProcessEnv = process.env): PodNeighbours {
  const vm = env.AUTOSCALING !== undefined;
  const password = env.PGBOUNCER_PASSWORD ? `:${encodeURIComponent(env.PGBOUNCER_PASSWORD)}` : '';
  return {
    pgbouncerIni: vm ? '/etc/pgbouncer.ini' : '/var/db/postgres/pgbouncer/pgbouncer.ini',
    pgbouncerAdmin: vm ? 'postgresql://pgbouncer@%2Ftmp:6432/pgbouncer' : `postgresql://postgres${password}@localhost:6432/pgbouncer?sslmode=disable`,
    pgbouncerPid: '/tmp/pgbouncer.pid',
    localProxyConfig: '/etc/local_proxy/config.json',
    localProxyPid: '/etc/local_proxy/pid',
    resizeSwap: null,
    diskQuota: null,
  };
}

export function neighboursOf(s: ComputeSettings): PodNeighbours {
  return { ...defaultNeighbours(), ...s.neighbours };
}

export function storageContext(s: ComputeSettings): StorageContext {
  return { pgdata: s.pgdata, postgres: s.postgres, pgbinDir: path.dirname(s.postgres), runAs: s.runAs };
}
