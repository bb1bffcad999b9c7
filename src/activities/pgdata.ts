// PGDATA around the basebackup: wiped and given its postgresql.conf before (§4.3), completed with
// pg_hba.conf and the signal files after (§4.6).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ParsedSpec } from '../compute-spec/parse';
import { ensureMd5Line, renderPgHba } from '../postgres/config-files';
import { chown, writeOwnedFile } from '../postgres/os';
import { stopPostmaster } from '../postgres/postmaster';
import { writeOverride } from '../postgres/reload';
import { checkAuditLogging } from './audit';
import { appliesCatalog } from './catalog';
import { installTls, writePostgresqlConf } from './config';
import type { ComputeSettings } from './settings';

export function pgdataActivities(s: ComputeSettings) {
  return {
    /** §4.3: refuse an audit level the pod cannot honour; stop a postmaster left on PGDATA, wipe PGDATA, write postgresql.conf. */
    async preparePgdata(parsed: ParsedSpec): Promise<void> {
      await checkAuditLogging(parsed, s.postgres);
      await stopPostmaster(s.pgdata, 'SIGQUIT', 30_000); // none running: nothing to do
      await fs.rm(s.pgdata, { recursive: true, force: true });
      await fs.mkdir(path.dirname(s.pgdata), { recursive: true });
      // Not recursive: a recursive mkdir reports a read-only filesystem as ENOENT, hiding the reason.
      await fs.mkdir(s.pgdata, { mode: 0o700 });
      await fs.chmod(s.pgdata, 0o700);
      await chown(s.pgdata, s.runAs);
      await writePostgresqlConf(s, parsed);
    },

    /** §4.6: pg_hba with the md5 line, pg_dynshmem → /dev/shm, standby.signal, neon.signal; the TLS pair (§4.3 step 6). */
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
      await installTls(s, parsed);
      // §5.1: the limits the first catalog apply lifts are lifted from the start, saving a reload.
      if (appliesCatalog(parsed)) await writeOverride(s.pgdata, s.runAs);
    },
  };
}
