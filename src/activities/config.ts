// postgresql.conf of the compute: written before the basebackup and on every reconfiguration.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { wantsTls, type ParsedSpec } from '../compute-spec/parse';
import { renderPostgresqlConf } from '../postgres/config-files';
import { writeOwnedFile } from '../postgres/os';
import { hasLibrary, postgresMajorVersion } from '../postgres/pgbin';
import { reloadAndWait, writeOverride } from '../postgres/reload';
import { installTlsFiles, type TlsFiles } from '../postgres/tls';
import type { RemoteExtensions } from '../postgres/remote-extensions';
import { appliesCatalog } from './catalog';
import type { ComputeSettings } from './settings';

async function readOvercommit(): Promise<string | null> {
  return fs.readFile('/proc/sys/vm/overcommit_memory', 'utf8').catch(() => null);
}

/** §4.3 step 6: TLS needs both the spec's feature and the pod's key and certificate. */
export function tlsFilesFor(s: ComputeSettings, parsed: ParsedSpec): TlsFiles | null {
  return s.tls && wantsTls(parsed) ? s.tls : null;
}

/**
 * With TLS, the pod's key and certificate copied into PGDATA, waiting until they are readable and
 * match: after the basebackup (finalizePgdata), and on each reconfiguration (a rotated pair).
 */
export async function installTls(s: ComputeSettings, parsed: ParsedSpec): Promise<void> {
  const tls = tlsFilesFor(s, parsed);
  if (tls) await installTlsFiles(tls, s.pgdata, s.runAs);
}

export async function writePostgresqlConf(s: ComputeSettings, parsed: ParsedSpec): Promise<void> {
  const tls = tlsFilesFor(s, parsed);
  const conf = renderPostgresqlConf(parsed, {
    tls: tls !== null,
    internalHttpPort: s.internalHttpPort,
    privilegedRoleName: s.privilegedRoleName,
    overcommitMemory: await readOvercommit(),
    pgMajor: await postgresMajorVersion(s.postgres),
    // Only the audit block names libraries (§4.3 step 12).
    neonLibrary: (parsed.spec.audit_log_level ?? 'Disabled') !== 'Disabled' && (await hasLibrary(s.postgres, 'neon')),
  });
  await writeOwnedFile(path.join(s.pgdata, 'postgresql.conf'), conf, s.runAs);
}

export function configActivities(s: ComputeSettings, remoteExtensions?: RemoteExtensions) {
  return {
    /**
     * Rewrites postgresql.conf (and copies the TLS pair again) and reloads (reconfiguration, §5.1). When the catalog is applied next,
     * the override that lifts its limits is written now too, so one reload takes both (as Neon's
     * reconfigure does): applyCatalog finds it in place and does not reload again.
     */
    async reloadConfig(parsed: ParsedSpec): Promise<void> {
      await writePostgresqlConf(s, parsed);
      await installTls(s, parsed);
      remoteExtensions?.setSpec(parsed.spec.remote_extensions);
      if (appliesCatalog(parsed)) await writeOverride(s.pgdata, s.runAs);
      await reloadAndWait(s.connstr);
    },
  };
}
