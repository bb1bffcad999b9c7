// The entity workflow of one compute (workflow ID compute-<id>): it owns the status (reference §3)
// and the current spec; starts, reconfigurations and terminations run as child workflows. The state
// and the handlers live in ComputeLifecycle; this is the main loop.
import * as wf from '@temporalio/workflow';
import { ComputeLifecycle, type LifecycleInput, type LifecycleResult } from './compute-lifecycle';

export type { LifecycleInput, LifecycleResult, LifecycleState } from './compute-lifecycle';

export async function computeLifecycle(input: LifecycleInput): Promise<LifecycleResult> {
  const compute = new ComputeLifecycle(input);
  compute.registerHandlers();
  compute.begin();
  for (;;) {
    await wf.condition(() => compute.hasWork());
    if (compute.shouldContinueAsNew()) await compute.continueAsNew();
    if (compute.terminationRequested()) {
      await compute.terminate();
      break;
    }
    if (compute.postgresExited()) compute.failOnPostgresExit();
    else if (compute.promotionDue()) await compute.promote();
    else if (compute.refreshDue()) await compute.refresh();
    else await compute.configure();
  }
  // Let the terminate update answer before the workflow completes.
  await wf.condition(wf.allHandlersFinished);
  return compute.result();
}
