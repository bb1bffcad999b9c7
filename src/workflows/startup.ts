// One attempt to start a compute: its own workflow execution, so a failed start is a failed
// workflow in the Temporal UI, typed by its step, with the step's own typed failure as its cause.
import { ApplicationFailure } from '@temporalio/workflow';
import { startupFailureType } from '../compute/failures';
import type { ParsedSpec } from '../compute-spec/parse';
import { POLICIES } from './policies';
import { stepsOf } from './activity-proxies';
import { runStartupSteps, StepError, type StartupResult } from './startup-steps';

export interface StartupInput {
  computeId: string;
  spec: ParsedSpec;
  /** Overrides the basebackup step's retries (testing, like Neon's NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES). */
  basebackupRetries?: number;
}

export async function computeStartup(input: StartupInput): Promise<StartupResult> {
  const steps = stepsOf(
    input.computeId,
    input.basebackupRetries === undefined ? {} : { fetchBasebackup: { retry: { ...POLICIES.fetchBasebackup.retry, maximumAttempts: input.basebackupRetries + 1 } } },
  );
  try {
    return await runStartupSteps(steps, input.spec, () => Date.now());
  } catch (err) {
    if (err instanceof StepError) {
      throw ApplicationFailure.create({
        message: err.context,
        type: startupFailureType(err.step, input.spec.storage.type),
        nonRetryable: true,
        // The step's activity failure (its type, e.g. UpstreamUnreachable, and its message): what
        // the UI's result panel and a client reading the failure see below the step's type.
        cause: err.cause instanceof Error ? err.cause : undefined,
      });
    }
    throw err;
  }
}
