// The spec fields that configure Postgres' neighbours in the pod (reference §2, §3, §4.2): pgbouncer,
// local_proxy, and the VM's swap and disk-quota helpers. Each is an activity, so that what a start
// or a reconfiguration did to them is in its history.
import { promises as fs } from 'node:fs';
import { ComputeFailure, FAILURE } from '../compute/failures';
import type { LocalProxySpec } from '../compute-spec/schema';
import { configureLocalProxy } from '../postgres/local-proxy';
import { runProgram, signalFromPidFile, tail } from '../postgres/os';
import { reloadPgbouncerAfter, withPgbouncerSettings } from '../postgres/pgbouncer';
import { neighboursOf, type ComputeSettings, type PodNeighbours } from './settings';

/** How long pgbouncer's tuning waits for the TLS key to appear (within the activity's 30 s). */
const PGBOUNCER_KEY_WAIT_MS = 20_000;

async function waitForFile(file: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fs.stat(file).then(() => true, () => false))) {
    if (Date.now() > deadline) throw ComputeFailure.permanent(FAILURE.pgbouncerConfigFailed, `the TLS key ${file} does not exist`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs a helper to completion; a helper that is missing or fails is a permanent failure of `type`. */
async function runHelper(type: typeof FAILURE.swapResizeFailed | typeof FAILURE.diskQuotaFailed, command: string[], args: string[]): Promise<void> {
  const [file, ...pre] = command;
  const shown = [...command, ...args].join(' ');
  const r = await runProgram(file, [...pre, ...args], { runAs: null }).catch((err: NodeJS.ErrnoException) => {
    throw ComputeFailure.permanent(type, `${shown}: cannot run ${file} (${err.code ?? err.message})`);
  });
  if (r.code !== 0) throw ComputeFailure.permanent(type, `${shown} failed (exit ${r.code ?? r.signal}): ${tail(r.stderr || r.stdout, 5)}`);
}

export async function stopNeighbours(n: PodNeighbours): Promise<{ pgbouncer: number | null; localProxy: number | null }> {
  return { pgbouncer: await signalFromPidFile(n.pgbouncerPid, 'SIGKILL'), localProxy: await signalFromPidFile(n.localProxyPid, 'SIGTERM') };
}

export function neighbourActivities(s: ComputeSettings) {
  const n = () => neighboursOf(s);
  return {
    /** §2 --resize-swap-on-bind: the swap resized to the spec's size before Postgres starts; nothing without the flag. */
    async resizeSwap(bytes: number): Promise<{ ran: boolean }> {
      const command = n().resizeSwap;
      if (!command) return { ran: false };
      await runHelper(FAILURE.swapResizeFailed, command, ['--once', String(bytes)]);
      return { ran: true };
    },

    /** §2 --set-disk-quota-for-fs: the quota (KiB) set on the mountpoint before Postgres starts; nothing without the flag. */
    async setDiskQuota(bytes: number): Promise<{ ran: boolean }> {
      const quota = n().diskQuota;
      if (!quota) return { ran: false };
      await runHelper(FAILURE.diskQuotaFailed, quota.command, [String(Math.floor(bytes / 1024)), quota.mountpoint]);
      return { ran: true };
    },

    /** §9, a termination: SIGKILL to pgbouncer, SIGTERM to local_proxy (each only when running). */
    async stopNeighbours(): Promise<{ pgbouncer: number | null; localProxy: number | null }> {
      return stopNeighbours(n());
    },

    /**
     * local_proxy_config written where local_proxy reads it, then SIGHUP to local_proxy. With TLS
     * (`tls`: the spec's tls_experimental), its `tls` is the pod's key and certificate, as Neon's.
     */
    async configureLocalProxy(config: LocalProxySpec, tls = false): Promise<{ pid: number }> {
      const files = tls ? s.tls : null;
      const given = files ? { ...config, tls: { key_path: files.keyPath, cert_path: files.certPath } } : config;
      return configureLocalProxy(given, n().localProxyConfig, n().localProxyPid);
    },

    /**
     * pgbouncer_settings into pgbouncer.ini's [pgbouncer] section, then RELOAD on its console. A
     * pgbouncer that is not up yet fails the attempt before the ini is touched, and the policy tries
     * again (3 attempts, 1 s apart, as Neon's). With TLS, pgbouncer serves clients with the pod's
     * pair (client_tls_*, sslmode allow), once the key exists: pgbouncer would refuse TLS without it.
     */
    async tunePgbouncer(given: Record<string, string>, tls = false): Promise<void> {
      const { pgbouncerIni, pgbouncerAdmin } = n();
      let settings = given;
      if (tls && s.tls) {
        await waitForFile(s.tls.keyPath, PGBOUNCER_KEY_WAIT_MS);
        settings = { ...given, client_tls_cert_file: s.tls.certPath, client_tls_key_file: s.tls.keyPath, client_tls_sslmode: 'allow' };
      }
      const ini = await fs.readFile(pgbouncerIni, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw ComputeFailure.permanent(FAILURE.pgbouncerConfigFailed, `cannot read pgbouncer's ini ${pgbouncerIni} (${err.code ?? err.message})`);
      });
      await reloadPgbouncerAfter(pgbouncerAdmin, async () => {
        const tmp = `${pgbouncerIni}.tmp`;
        const stat = await fs.stat(pgbouncerIni);
        await fs.writeFile(tmp, withPgbouncerSettings(ini, settings), { mode: stat.mode & 0o777 });
        await fs.chown(tmp, stat.uid, stat.gid).catch(() => undefined);
        await fs.rename(tmp, pgbouncerIni);
      });
    },
  };
}
