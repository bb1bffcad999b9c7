// One attempt to start a compute: its own workflow execution, so a failed start is a failed
// workflow in the Temporal UI, with the reference's error text as its message.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { ComputeActivities } from '../activities';
import { startupFailureType } from '../compute/failures';
import type { ParsedSpec } from '../compute-spec/parse';
import { acts } from './activity-proxies';
import { POLICIES } from './policies';
import { errorChain } from './errors';
import { runStartupSteps, StepError, type StartupResult } from './startup-steps';

export interface StartupInput {
  spec: ParsedSpec;
  /** Overrides the basebackup step's retries (testing, like Neon's NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES). */
  basebackupRetries?: number;
}

export async function computeStartup(input: StartupInput): Promise<StartupResult> {
  try {
    const steps =
      input.basebackupRetries === undefined
        ? acts
        : {
            ...acts,
            fetchBasebackup: proxyActivities<ComputeActivities>({
              ...POLICIES.fetchBasebackup,
              retry: { ...POLICIES.fetchBasebackup.retry, maximumAttempts: input.basebackupRetries + 1 },
            }).fetchBasebackup,
          };
    return await runStartupSteps(steps, input.spec, () => Date.now());
  } catch (err) {
    if (err instanceof StepError) {
      throw ApplicationFailure.create({
        message: errorChain(err),
        type: startupFailureType(err.step, input.spec.storage.type),
        nonRetryable: true,
      });
    }
    throw err;
  }
}
