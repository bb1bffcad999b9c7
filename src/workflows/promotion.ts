// One promotion of a Replica compute (reference §6.3 /promote): its own workflow execution, so a
// failed promotion is a failed workflow the Temporal UI lists, with the reason as its message.
// The lifecycle then installs the Primary spec and reconfigures (computeReconfigure).
import { ApplicationFailure } from '@temporalio/workflow';
import { FAILURE } from '../compute/failures';
import type { PromoteInput } from '../postgres/promote-replica';
import { stepsOf } from './activity-proxies';
import { headline } from './errors';

export interface PromotionInput extends PromoteInput {
  computeId: string;
}

export async function computePromotion({ computeId, ...promote }: PromotionInput): Promise<void> {
  try {
    await stepsOf(computeId).promoteReplica(promote);
  } catch (err) {
    throw ApplicationFailure.create({
      message: headline(err),
      type: FAILURE.promotionFailed,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }
}
