// compute_audit_log_dir_size (§7.1): the bytes of the audit log files pgauditlogtofile writes in
// <pgdata>/log (audit levels Hipaa, Extended, Full), measured at scrape time as Neon's pgaudit GC
// measures them (files whose names end in `log`); 0 when there is no such directory.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export async function auditLogDirSize(pgdata: string): Promise<number> {
  const dir = path.join(pgdata, 'log');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const sizes = await Promise.all(
    names.filter((n) => n.endsWith('log')).map((n) => stat(path.join(dir, n)).then((s) => (s.isFile() ? s.size : 0), () => 0)),
  );
  return sizes.reduce((a, b) => a + b, 0);
}
