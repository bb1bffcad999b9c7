// One PGDATA, one step at a time. A step may be retried while its earlier attempt still runs in
// this pod: Temporal timed the attempt out while it was away (restarted, or cut off) and scheduled
// the next. The retry then waits for the earlier attempt to end and finds what it left (a
// postmaster to adopt, a PGDATA to wipe, roles already created) instead of racing it (two
// postmasters on one port, a PGDATA replaced under a running server).

/** The steps that read or change PGDATA or the compute's Postgres. */
export const PGDATA_STEPS = new Set([
  'preparePgdata',
  'determineStartLsn',
  'fetchBasebackup',
  'finalizePgdata',
  'startPostgres',
  'applyCatalog',
  'reloadConfig',
  'stopPostgres',
  'finalLsn',
  'promoteReplica',
]);

/** Runs the named activities one after another (in the order they were called); the others as they come. */
export function serializedOnPgdata<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, names: ReadonlySet<string> = PGDATA_STEPS): T {
  let tail: Promise<unknown> = Promise.resolve();
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    if (!names.has(name)) {
      out[name] = fn;
      continue;
    }
    out[name] = (...args: never[]) => {
      const run = tail.then(() => fn(...args));
      tail = run.catch(() => undefined);
      return run;
    };
  }
  return out as T;
}
