// pgbouncer beside Postgres (reference §3 pgbouncer_settings, §4.2 step 3): the spec's settings
// written into the [pgbouncer] section of its ini, so that they outlive a restart of pgbouncer, and
// applied with RELOAD on its admin console.
import { ComputeFailure, FAILURE } from '../compute/failures';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `ini` with each setting set in its [pgbouncer] section (appended where absent); comments and the rest kept. */
export function withPgbouncerSettings(ini: string, settings: Record<string, string>): string {
  for (const [key, value] of Object.entries(settings)) {
    if (!KEY.test(key) || /[\r\n]/.test(value)) {
      throw ComputeFailure.permanent(FAILURE.pgbouncerConfigFailed, `pgbouncer_settings: ${JSON.stringify(key)} = ${JSON.stringify(value)} is not a setting pgbouncer.ini can hold`);
    }
  }
  const lines = ini.split('\n');
  let start = lines.findIndex((l) => l.trim().toLowerCase() === '[pgbouncer]');
  if (start === -1) {
    if (lines.length && lines.at(-1) === '') lines.pop();
    lines.push('[pgbouncer]');
    start = lines.length - 1;
  }
  let end = lines.findIndex((l, i) => i > start && /^\s*\[/.test(l));
  if (end === -1) end = lines.length;
  const pending = new Map(Object.entries(settings).map(([k, v]) => [k.toLowerCase(), { key: k, value: v }]));
  for (let i = start + 1; i < end; i++) {
    const m = /^\s*([^=;#\s]+)\s*=/.exec(lines[i]);
    const setting = m && pending.get(m[1].toLowerCase());
    if (!setting) continue;
    lines[i] = `${setting.key} = ${setting.value}`;
    pending.delete(m[1].toLowerCase());
  }
  // New settings go after the section's last non-blank line.
  let at = end;
  while (at > start + 1 && lines[at - 1].trim() === '') at--;
  lines.splice(at, 0, ...[...pending.values()].map((s) => `${s.key} = ${s.value}`));
  const text = lines.join('\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * On pgbouncer's admin console (`adminUrl`: a postgres URL of database pgbouncer): `change` (the ini
 * written), then RELOAD. The console is reached first, so a pgbouncer that is not up fails before
 * anything is changed.
 */
export async function reloadPgbouncerAfter(adminUrl: string, change: () => Promise<void>): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot reach pgbouncer's admin console: ${(err as Error).message}`);
  }
  try {
    await change();
    await client.query('RELOAD');
  } finally {
    await client.end().catch(() => undefined);
  }
}
