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
    await wf.condition(() => compute.nextWork() !== null);
    const work = compute.nextWork()!;
    if (work === 'terminate') break;
    if (work === 'continue_as_new') await compute.continueAsNew();
    else if (work === 'postgres_exit') compute.failOnPostgresExit();
    else if (work === 'promote') await compute.promote();
    else if (work === 'refresh') await compute.refresh();
    else await compute.configure();
  }
  await compute.terminate();
  return compute.finish();
}
