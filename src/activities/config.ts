// postgresql.conf of the compute: written before the basebackup and on every reconfiguration.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ParsedSpec } from '../compute-spec/parse';
import { renderPostgresqlConf } from '../postgres/config-files';
import { writeOwnedFile } from '../postgres/os';
import { hasLibrary, postgresMajorVersion } from '../postgres/pgbin';
import { reloadAndWait, writeOverride } from '../postgres/reload';
import { appliesCatalog } from './catalog';
import type { ComputeSettings } from './settings';

async function readOvercommit(): Promise<string | null> {
  return fs.readFile('/proc/sys/vm/overcommit_memory', 'utf8').catch(() => null);
}

export async function writePostgresqlConf(s: ComputeSettings, parsed: ParsedSpec): Promise<void> {
  const conf = renderPostgresqlConf(parsed, {
    internalHttpPort: s.internalHttpPort,
    privilegedRoleName: s.privilegedRoleName,
    overcommitMemory: await readOvercommit(),
    pgMajor: await postgresMajorVersion(s.postgres),
    neonLibrary: await hasLibrary(s.postgres, 'neon'),
  });
  await writeOwnedFile(path.join(s.pgdata, 'postgresql.conf'), conf, s.runAs);
}

export function configActivities(s: ComputeSettings) {
  return {
    /**
     * Rewrites postgresql.conf and reloads (reconfiguration, §5.1). When the catalog is applied next,
     * the override that lifts its limits is written now too, so one reload takes both (as Neon's
     * reconfigure does): applyCatalog finds it in place and does not reload again.
     */
    async reloadConfig(parsed: ParsedSpec): Promise<void> {
      await writePostgresqlConf(s, parsed);
      if (appliesCatalog(parsed)) await writeOverride(s.pgdata, s.runAs);
      await reloadAndWait(s.connstr);
    },
  };
}
