// The activities as the workflows call them: each with its own policy from policies.ts, on the
// compute's own task queue, so that every step runs in the compute's pod (the workflows themselves
// run on the orchestrators' shared queue).
import { proxyActivities } from '@temporalio/workflow';
import type { ComputeActivities } from '../activities';
import { taskQueueFor } from '../compute/ids';
import { POLICIES } from './policies';

type Name = keyof typeof POLICIES & keyof ComputeActivities;
export type ComputeSteps = Pick<ComputeActivities, Name>;

/** The steps of one compute, scheduled on its queue; `overrides` changes single policies. */
export function stepsOf(computeId: string, overrides: Partial<Record<Name, Partial<(typeof POLICIES)[Name]>>> = {}): ComputeSteps {
  const taskQueue = taskQueueFor(computeId);
  const steps = {} as Record<Name, unknown>;
  for (const name of Object.keys(POLICIES) as Name[]) {
    steps[name] = proxyActivities<ComputeActivities>({ ...POLICIES[name], ...overrides[name], taskQueue })[name];
  }
  return steps as ComputeSteps;
}
