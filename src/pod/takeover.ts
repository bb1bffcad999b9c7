// A restarted pod takes its compute over at once: the attempts its dead predecessor left running
// are failed as retryable, so that Temporal retries them on this pod now instead of after their
// heartbeat timeout. Only attempts of another worker identity are touched; a compute's steps run
// on its pod alone.
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
    for (const a of raw.pendingActivities ?? []) {
      if (a.state !== STARTED || !a.activityId || !a.lastWorkerIdentity || a.lastWorkerIdentity === identity) continue;
      const failure = ApplicationFailure.retryable(`the pod running this attempt (${a.lastWorkerIdentity}) is gone`, FAILURE.workerLost);
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
