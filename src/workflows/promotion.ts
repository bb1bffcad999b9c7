// One promotion of a Replica compute (reference §6.3 /promote): its own workflow execution, so a
// failed promotion is a failed workflow the Temporal UI lists, with the reason as its message.
// The lifecycle then installs the Primary spec and reconfigures (computeReconfigure).
import { ApplicationFailure } from '@temporalio/workflow';
import { FAILURE } from '../compute/failures';
import type { PromoteInput } from '../postgres/promote';
import { acts } from './activity-proxies';
import { errorChain } from './errors';

export async function computePromotion(input: PromoteInput): Promise<void> {
  try {
    await acts.promoteReplica(input);
  } catch (err) {
    throw ApplicationFailure.create({ message: errorChain(err), type: FAILURE.promotionFailed, nonRetryable: true });
  }
}
