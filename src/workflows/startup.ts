// One attempt to start a compute: its own workflow execution, so a failed start is a failed
// workflow in the Temporal UI, with the reference's error text as its message.
import { ApplicationFailure } from '@temporalio/workflow';
import type { ParsedSpec } from '../spec/parse';
import { acts } from './activity-proxies';
import { errorChain } from './errors';
import { runStartupSteps, StepError, type StartupResult } from './startup-steps';

export interface StartupInput {
  spec: ParsedSpec;
}

export async function computeStartup(input: StartupInput): Promise<StartupResult> {
  try {
    return await runStartupSteps(acts, input.spec, () => Date.now());
  } catch (err) {
    if (err instanceof StepError) {
      throw ApplicationFailure.create({
        message: errorChain(err),
        type: `StartupFailed.${err.step}`,
        nonRetryable: true,
      });
    }
    throw err;
  }
}
