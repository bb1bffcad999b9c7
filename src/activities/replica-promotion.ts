// /promote's step in the pod (reference §6.3): the replica's Postgres promoted.
import { ComputeFailure, FAILURE } from '../compute/failures';
import { promoteReplica, type PromoteInput } from '../postgres/promote-replica';
import type { ComputeSettings } from './settings';

export function promoteActivities(s: ComputeSettings) {
  return {
    /** Not retried: a promotion that failed half-way is for the control plane to look at. */
    async promoteReplica(input: PromoteInput): Promise<void> {
      try {
        await promoteReplica(s.connstr, input);
      } catch (err) {
        throw ComputeFailure.permanent(FAILURE.promotionFailed, (err as Error).message);
      }
    },
  };
}
