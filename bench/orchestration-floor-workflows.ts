// The orchestration floor's workflows (`npm run bench -- startup`): Temporal's own cost of a start's
// shape, with nothing of ours in it. A parent runs a child workflow of as many sequential no-op
// activities as a start has steps, on another queue served by its own activity worker with one
// poller: the layout a start runs in (an orchestrator's workflow, a pod's activities).
import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';

export async function floorSteps(input: { steps: number; activityQueue: string }): Promise<void> {
  const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1 minute', taskQueue: input.activityQueue });
  for (let i = 0; i < input.steps; i++) await noop();
}

export async function floorStart(input: { steps: number; activityQueue: string }): Promise<void> {
  await executeChild(floorSteps, { workflowId: `${workflowInfo().workflowId}-steps`, args: [input] });
}
