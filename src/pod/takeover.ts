// A restarted worker takes over its compute at once: the attempts its dead predecessor left running
// are failed as retryable, so that Temporal retries them on this worker now instead of after their
// heartbeat timeout, and the workflows' sticky queues (the dead worker's cache) are reset, so that
// their next tasks come here without waiting for the sticky timeout. Only attempts of another
// worker identity are touched; a compute has one worker.
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { FAILURE } from '../compute/failures';
import { lifecycleWorkflowId } from '../compute/ids';

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
const RUNNING = temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;

/** Fails the running attempts of other workers in the compute's lifecycle and its open children; returns how many. */
export async function endDeadAttempts(client: Client, computeId: string, identity: string): Promise<number> {
  let ended = 0;
  const visit = async (workflowId: string, runId?: string): Promise<void> => {
    const { raw } = await client.workflow.getHandle(workflowId, runId).describe();
    const execution = raw.workflowExecutionInfo;
    if (execution?.status !== RUNNING) return;
    await client.workflowService
      .resetStickyTaskQueue({ namespace: client.options.namespace, execution: { workflowId, runId: execution.execution?.runId } })
      .catch(() => undefined);
    for (const a of raw.pendingActivities ?? []) {
      if (a.state !== STARTED || !a.activityId || !a.lastWorkerIdentity || a.lastWorkerIdentity === identity) continue;
      const failure = ApplicationFailure.retryable(`the worker running this attempt (${a.lastWorkerIdentity}) is gone`, FAILURE.workerLost);
      // The attempt may have ended meanwhile (its heartbeat timed out, or it completed): nothing to do then.
      await client.activity
        .fail({ workflowId, runId: execution.execution?.runId ?? undefined, activityId: a.activityId }, failure)
        .then(() => ended++, () => undefined);
    }
    for (const child of raw.pendingChildren ?? []) {
      if (child.workflowId) await visit(child.workflowId, child.runId ?? undefined);
    }
  };
  await visit(lifecycleWorkflowId(computeId));
  return ended;
}
