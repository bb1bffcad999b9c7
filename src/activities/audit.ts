// audit_log_level (§2, §4.2, §4.3 step 12): what a level needs before Postgres may start with it.
// Checked in the first step of a start, so a compute that cannot audit as asked never serves.
import type { ParsedSpec } from '../compute-spec/parse';
import { ComputeFailure, FAILURE } from '../compute/failures';
import { hasLibrary, postgresMajorVersion } from '../postgres/pgbin';

/** The levels that log everything to files forwarded by rsyslog (§2: they need an endpoint). */
export const AUDIT_FULL_LEVELS = ['Hipaa', 'Extended', 'Full'];

/** The shared libraries a level preloads. */
export function auditLibraries(level: string): string[] {
  if (level === 'Disabled') return [];
  return AUDIT_FULL_LEVELS.includes(level) ? ['pgaudit', 'pgauditlogtofile'] : ['pgaudit'];
}

/** Refuses a start whose audit level cannot be honoured: an endpoint missing, a library not installed. */
export async function checkAuditLogging(parsed: ParsedSpec, postgres: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const level = parsed.spec.audit_log_level ?? 'Disabled';
  if (AUDIT_FULL_LEVELS.includes(level) && !env.AUDIT_LOGGING_ENDPOINT && !env.AUDIT_LOGGING_TLS_ENDPOINT) {
    throw ComputeFailure.permanent(
      FAILURE.auditLoggingNotConfigured,
      `audit_log_level ${level} needs AUDIT_LOGGING_ENDPOINT or AUDIT_LOGGING_TLS_ENDPOINT in the worker's environment; neither is set`,
    );
  }
  for (const lib of auditLibraries(level)) {
    if (!(await hasLibrary(postgres, lib))) {
      const major = await postgresMajorVersion(postgres);
      throw ComputeFailure.permanent(
        FAILURE.auditLibraryMissing,
        `audit_log_level ${level} needs the ${lib} library, which PostgreSQL ${major} at ${postgres} does not have (Debian: apt-get install postgresql-${major}-${lib})`,
      );
    }
  }
}
