// Termination (reference §9): stop pgbouncer and local_proxy (when the spec uses them), Postgres (fast = SIGINT, immediate = SIGQUIT), then, for a
// Primary that had started, read the LSN to report.
import type { ParsedSpec } from '../compute-spec/parse';
import type { TerminateMode } from '../compute/views';
import { stepsOf } from './activity-proxies';

export interface TerminationInput {
  computeId: string;
  mode: TerminateMode;
  /** The spec of a compute whose Postgres had started; null if it never did. */
  spec: ParsedSpec | null;
}

export async function computeTermination(input: TerminationInput): Promise<{ lsn: string | null }> {
  const steps = stepsOf(input.computeId);
  // §9's fan-out: pgbouncer and local_proxy first, when the spec had the compute use them.
  if (input.spec?.spec.pgbouncer_settings || input.spec?.spec.local_proxy_config) await steps.stopNeighbours().catch(() => undefined);
  await steps.stopPostgres(input.mode);
  if (!input.spec || input.spec.mode.type !== 'primary') return { lsn: null };
  return { lsn: await steps.finalLsn(input.spec) };
}
