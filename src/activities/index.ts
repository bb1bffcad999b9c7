// The in-pod steps of a compute, as Temporal activities bound to this worker's compute. Every
// activity is idempotent: a retry after a crash leaves the same result.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ParsedSpec } from '../compute-spec/parse';
import { ensureMd5Line, renderPgHba, renderPostgresqlConf } from '../postgres/config-files';
import { storageFor, type BasebackupResult, type StartLsn, type StorageContext } from '../storage';
import { acquireLeases, type LeaseOutcome } from '../storage/neon';
import type { Counter } from 'prom-client';
import type { TerminateMode } from '../compute/status';
import { adminDatabase, adminUser } from '../postgres/admin-connection';
import { applySpecSql, type ApplyResult } from '../postgres/catalog/apply';
import { runMigrations, type MigrationReport } from '../postgres/catalog/migrations';
import { firstStartConcurrency } from '../postgres/catalog/plan';
import { failpoint } from '../postgres/failpoints';
import { chown, postgresEnv, writeOwnedFile, type RunAs } from '../postgres/os';
import { enableSubscribers, reloadAndWait, truncateOverride, writeOverride } from '../postgres/reload';
import {
  awaitAdoptedReady,
  livePostmasterPid,
  startPostmaster,
  stopPostmaster,
  waitForExit,
  type PostmasterExit,
} from '../postgres/postmaster';

/** Worker-side settings of the one compute this worker runs (the in-pod process's flags). */
export interface ComputeSettings {
  computeId: string;
  pgdata: string;
  /** Path of the `postgres` binary; its siblings (pg_basebackup, …) are found next to it. */
  postgres: string;
  /** The local Postgres as superuser, e.g. postgresql://cloud_admin@127.0.0.1:55432/postgres */
  connstr: string;
  runAs: RunAs | null;
  internalHttpPort: number;
  privilegedRoleName: string;
}

/** Heartbeat when running as an activity; a no-op when a step is called directly (bench). */
function heartbeat(): void {
  try {
    Context.current().heartbeat();
  } catch {
    // not inside an activity
  }
}

function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/**
 * An error Postgres answered (it has a SQLSTATE) will be answered again: fail at once. Connection
 * errors (class 08, admin shutdown 57P) and a dead worker are retried by the activity's policy.
 */
async function nonRetryableSqlErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (/^[0-9A-Z]{5}$/.test(code) && !/^(08|57P)/.test(code)) throw ApplicationFailure.nonRetryable((err as Error).message, 'CatalogFailed');
    throw err;
  }
}

async function readOvercommit(): Promise<string | null> {
  return fs.readFile('/proc/sys/vm/overcommit_memory', 'utf8').catch(() => null);
}

export interface CatalogResult {
  statements: number;
  /** Milliseconds per phase of §5.5 (empty when the catalog was not touched). */
  phases: { name: string; ms: number }[];
  /** Settings whose new value needs a restart (pg_settings.pending_restart). */
  pendingRestart: string[];
}

/**
 * Every activity heartbeats every second while it runs (so a dead worker is noticed within the
 * heartbeat timeout and the step is retried elsewhere) and passes failpoints `<name>-before` and
 * `<name>-after`.
 */
function instrumented<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      const tick = setInterval(heartbeat, 1000);
      try {
        await failpoint(`${name}-before`);
        const result = await fn(...args);
        await failpoint(`${name}-after`);
        return result;
      } finally {
        clearInterval(tick);
      }
    };
  }
  return out as T;
}

export function createActivities(s: ComputeSettings, metrics?: { migrationFailures: Counter<'migration_id'> }) {
  return instrumented(computeActivities(s, metrics));
}

function computeActivities(s: ComputeSettings, metrics?: { migrationFailures: Counter<'migration_id'> }) {
  const storageCtx = (): StorageContext => ({ pgdata: s.pgdata, postgres: s.postgres, pgbinDir: path.dirname(s.postgres), runAs: s.runAs });

  async function writePostgresqlConf(parsed: ParsedSpec): Promise<void> {
    const conf = renderPostgresqlConf(parsed, {
      internalHttpPort: s.internalHttpPort,
      privilegedRoleName: s.privilegedRoleName,
      overcommitMemory: await readOvercommit(),
    });
    await writeOwnedFile(path.join(s.pgdata, 'postgresql.conf'), conf, s.runAs);
  }

  return {
    /** §4.3: stop a postmaster left on PGDATA, wipe PGDATA, write postgresql.conf. */
    async preparePgdata(parsed: ParsedSpec): Promise<void> {
      if ((await livePostmasterPid(s.pgdata)) !== null) await stopPostmaster(s.pgdata, 'SIGQUIT', 30_000);
      await fs.rm(s.pgdata, { recursive: true, force: true });
      await fs.mkdir(s.pgdata, { recursive: true, mode: 0o700 });
      await fs.chmod(s.pgdata, 0o700);
      await chown(s.pgdata, s.runAs);
      await writePostgresqlConf(parsed);
    },

    /** §4.4: Primary asks the storage; Static uses its LSN; Replica starts from the latest (0/0). */
    async determineStartLsn(parsed: ParsedSpec): Promise<StartLsn> {
      if (parsed.mode.type === 'static') return { lsn: parsed.mode.lsn, checkMs: 0, syncMs: 0 };
      if (parsed.mode.type === 'replica') return { lsn: '0/0', checkMs: 0, syncMs: 0 };
      return storageFor(parsed).primaryStartLsn(parsed, storageCtx());
    },

    /** §8.2: one round of LSN leases for a Static compute (the lease workflow loops). */
    async acquireLeases(parsed: ParsedSpec): Promise<LeaseOutcome> {
      if (parsed.mode.type !== 'static') throw ApplicationFailure.nonRetryable('only Static computes hold LSN leases', 'NotStatic');
      return acquireLeases(parsed, parsed.mode.lsn);
    },

    /** §4.5 */
    async fetchBasebackup(parsed: ParsedSpec, lsn: string): Promise<BasebackupResult> {
      return storageFor(parsed).basebackup(parsed, lsn, storageCtx());
    },

    /** §4.6: pg_hba with the md5 line, pg_dynshmem → /dev/shm, standby.signal, neon.signal. */
    async finalizePgdata(parsed: ParsedSpec): Promise<void> {
      const p = (name: string) => path.join(s.pgdata, name);
      const hba = await fs.readFile(p('pg_hba.conf'), 'utf8').catch(() => renderPgHba());
      await writeOwnedFile(p('pg_hba.conf'), ensureMd5Line(hba), s.runAs);
      for (const name of ['pg_ident.conf', 'postgresql.auto.conf']) {
        if (!(await fs.stat(p(name)).catch(() => null))) await writeOwnedFile(p(name), '', s.runAs);
      }
      await fs.rm(p('pg_dynshmem'), { recursive: true, force: true });
      await fs.symlink('/dev/shm/', p('pg_dynshmem'));
      await chown(p('pg_dynshmem'), s.runAs);
      if (parsed.mode.type !== 'primary' && !(await fs.stat(p('standby.signal')).catch(() => null))) {
        await writeOwnedFile(p('standby.signal'), '', s.runAs);
      }
      const zenith = await fs.readFile(p('zenith.signal'), 'utf8').catch(() => null);
      if (zenith !== null && !(await fs.stat(p('neon.signal')).catch(() => null))) {
        await writeOwnedFile(p('neon.signal'), zenith, s.runAs);
      }
    },

    /** §4.7: spawn `postgres -D <pgdata>` and wait until postmaster.pid says ready. */
    async startPostgres(parsed: ParsedSpec): Promise<{ pid: number }> {
      const env = postgresEnv(parsed.spec.storage_auth_token);
      // A retry after the worker died may find the postmaster it had started: adopt it, never double it.
      const running = await livePostmasterPid(s.pgdata);
      if (running !== null) {
        await awaitAdoptedReady(s.pgdata);
        return { pid: running };
      }
      try {
        const pid = await startPostmaster({ postgres: s.postgres, pgdata: s.pgdata, runAs: s.runAs, env });
        return { pid };
      } catch (err) {
        // A retry would wipe nothing and meet the same configuration: let the workflow decide.
        throw ApplicationFailure.nonRetryable((err as Error).message, 'PostgresStartFailed');
      }
    },

    /**
     * §5.1: apply the spec to the catalog (Primary, unless skip_pg_catalog_updates) with the limits
     * lifted by the override file, then reload and report settings waiting for a restart. The
     * first start takes its concurrency from max_connections, a reconfiguration from
     * reconfigure_concurrency.
     */
    async applyCatalog(parsed: ParsedSpec, opts: { firstStart?: boolean } = {}): Promise<CatalogResult> {
      const firstStart = opts.firstStart ?? true;
      let applied: ApplyResult = { statements: 0, phases: [] };
      if (parsed.mode.type === 'primary' && !parsed.spec.skip_pg_catalog_updates) {
        await writeOverride(s.pgdata, s.runAs);
        await reloadAndWait(s.connstr);
        applied = await nonRetryableSqlErrors(() => applySpecSql(parsed, {
          connstr: s.connstr,
          priv: s.privilegedRoleName,
          adminUser: adminUser(s.connstr),
          systemDb: adminDatabase(s.connstr),
          concurrency: firstStart ? firstStartConcurrency(parsed) : Math.max(1, parsed.spec.reconfigure_concurrency ?? 1),
        }));
        await truncateOverride(s.pgdata, s.runAs);
        if (firstStart) await enableSubscribers(s.pgdata, s.runAs);
      }
      return { ...applied, pendingRestart: await reloadAndWait(s.connstr) };
    },

    /** §5.8, in the background after the first start of a Primary; failures are counted, never fatal. */
    async runMigrations(parsed: ParsedSpec): Promise<MigrationReport | null> {
      if (parsed.mode.type !== 'primary' || parsed.spec.skip_pg_catalog_updates) return null;
      const report = await runMigrations(s.connstr, s.privilegedRoleName);
      if (report.failed) metrics?.migrationFailures.inc({ migration_id: String(report.failed.id) });
      return report;
    },

    /** Rewrites postgresql.conf and reloads (reconfiguration, §5.1). */
    async reloadConfig(parsed: ParsedSpec): Promise<void> {
      await writePostgresqlConf(parsed);
      await reloadAndWait(s.connstr);
    },

    /** Long-running: resolves when the postmaster exits. Heartbeats so a lost worker is noticed. */
    async watchPostgres(): Promise<PostmasterExit> {
      return waitForExit(s.pgdata, cancellation());
    },

    /** fast = SIGINT (fast shutdown: clients disconnected, shutdown checkpoint); immediate = SIGQUIT. */
    async stopPostgres(mode: TerminateMode): Promise<PostmasterExit | null> {
      return stopPostmaster(s.pgdata, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    },

    /** After Postgres stopped: the LSN /terminate reports (Primary only). */
    async finalLsn(parsed: ParsedSpec): Promise<string | null> {
      return storageFor(parsed).finalLsn(parsed, storageCtx());
    },
  };
}

export type ComputeActivities = ReturnType<typeof createActivities>;
