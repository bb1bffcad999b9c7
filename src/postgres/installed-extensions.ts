// The installed extensions of every database (reference §8.4), for the compute_installed_extensions
// metric: how many databases hold each extension at each version.
import { withAdminClient } from './admin-connection';

export interface InstalledExtension {
  extension_name: string;
  version: string;
  /** "1" when the extension is owned by the bootstrap superuser (oid 10), as Neon labels it. */
  owned_by_superuser: '0' | '1';
  databases: number;
}

const MAX_DATABASES = 500;

export async function installedExtensions(connstr: string): Promise<InstalledExtension[]> {
  const databases = await withAdminClient(connstr, 'installed_extensions', async (c) =>
    (
      await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datallowconn AND datconnlimit <> -2 ORDER BY datname LIMIT ${MAX_DATABASES}`,
      )
    ).rows.map((r) => r.datname),
  );
  const counts = new Map<string, InstalledExtension>();
  for (const db of databases) {
    const rows = await withAdminClient(
      connstr,
      'installed_extensions',
      async (c) => (await c.query<{ extname: string; extversion: string; extowner: number }>('SELECT extname, extversion, extowner::int4 AS extowner FROM pg_extension')).rows,
      db,
    ).catch(() => []); // a database dropped meanwhile, or refusing connections: skipped
    for (const r of rows) {
      const owned = r.extowner === 10 ? '1' : '0';
      const key = `${r.extname}\u0000${r.extversion}\u0000${owned}`;
      const entry = counts.get(key) ?? { extension_name: r.extname, version: r.extversion, owned_by_superuser: owned, databases: 0 };
      entry.databases++;
      counts.set(key, entry);
    }
  }
  return [...counts.values()];
}
