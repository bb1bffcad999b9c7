// Roles, databases and the privileged role's migrations (§5).
import type { Counter } from 'prom-client';
import type { ParsedSpec } from '../compute-spec/parse';
import { adminDatabase, adminUser } from '../postgres/admin-connection';
import { applySpecSql, type ApplyResult } from '../postgres/catalog/apply';
import { runMigrations, type MigrationReport } from '../postgres/catalog/migrations';
import { firstStartConcurrency } from '../postgres/catalog/plan';
import { enableSubscribers, overrideInPlace, reloadAndWait, truncateOverride, writeOverride } from '../postgres/reload';
import type { ComputeSettings } from './settings';

/** §5.1: the catalog is the spec's on a Primary, unless skip_pg_catalog_updates. */
export function appliesCatalog(parsed: ParsedSpec): boolean {
  return parsed.mode.type === 'primary' && !parsed.spec.skip_pg_catalog_updates;
}

export interface CatalogResult {
  statements: number;
  /** Milliseconds per phase of §5.5 (empty when the catalog was not touched). */
  phases: { name: string; ms: number }[];
  /** Settings whose new value needs a restart (pg_settings.pending_restart). */
  pendingRestart: string[];
}

export function catalogActivities(s: ComputeSettings, metrics?: { migrationFailures?: Counter<'migration_id'> }) {
  return {
    /**
     * §5.1: apply the spec to the catalog (Primary, unless skip_pg_catalog_updates) with the limits
     * lifted by the override file, then reload and report settings waiting for a restart. The
     * first start takes its concurrency from max_connections, a reconfiguration from
     * reconfigure_concurrency.
     */
    async applyCatalog(parsed: ParsedSpec, opts: { firstStart?: boolean } = {}): Promise<CatalogResult> {
      const firstStart = opts.firstStart ?? true;
      let applied: ApplyResult = { statements: 0, phases: [] };
      if (appliesCatalog(parsed)) {
        // The override is in place and loaded when this runs after finalizePgdata (a first start:
        // Postgres started with it) or reloadConfig (a reconfiguration): whoever writes it reloads.
        if (!(await overrideInPlace(s.pgdata))) {
          await writeOverride(s.pgdata, s.runAs);
          await reloadAndWait(s.connstr);
        }
        applied = await applySpecSql(parsed, {
          connstr: s.connstr,
          priv: s.privilegedRoleName,
          adminUser: adminUser(s.connstr),
          systemDb: adminDatabase(s.connstr),
          concurrency: firstStart ? firstStartConcurrency(parsed) : Math.max(1, parsed.spec.reconfigure_concurrency ?? 1),
        });
        await truncateOverride(s.pgdata, s.runAs);
        if (firstStart) await enableSubscribers(s.pgdata, s.runAs);
      }
      return { ...applied, pendingRestart: await reloadAndWait(s.connstr) };
    },

    /** §5.8, in the background after the first start of a Primary; failures are counted, never fatal. */
    async runMigrations(parsed: ParsedSpec): Promise<MigrationReport | null> {
      if (!appliesCatalog(parsed)) return null;
      const report = await runMigrations(s.connstr, s.privilegedRoleName);
      if (report.failed) metrics?.migrationFailures?.inc({ migration_id: String(report.failed.id) });
      return report;
    },
  };
}
