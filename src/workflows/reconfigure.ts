// One reconfiguration of a running compute (reference §5.1, "Reconfigure"): rewrite
// postgresql.conf, reload, and (Primary) apply the spec to the catalog; report the settings that
// wait for a restart (no automatic restart).
import { ApplicationFailure } from '@temporalio/workflow';
import { FAILURE } from '../compute/failures';
import type { ParsedSpec } from '../compute-spec/parse';
import { stepsOf } from './activity-proxies';
import { headline } from './errors';

export interface ReconfigureInput {
  computeId: string;
  spec: ParsedSpec;
}

export interface ReconfigureResult {
  pendingRestart: string[];
}

export async function computeReconfigure(input: ReconfigureInput): Promise<ReconfigureResult> {
  const steps = stepsOf(input.computeId);
  try {
    await steps.reloadConfig(input.spec);
    const catalog = await steps.applyCatalog(input.spec, { firstStart: false });
    return { pendingRestart: catalog.pendingRestart };
  } catch (err) {
    throw ApplicationFailure.create({
      message: headline(err),
      type: FAILURE.reconfigureFailed,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }
}
