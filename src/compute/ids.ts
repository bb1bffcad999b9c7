// Every name a compute has in Temporal, in one place (public: the control plane and operators find
// computes by them). Workflows of all computes run on one shared queue served by the orchestrators;
// each compute's steps run on its own queue, polled by its pod alone.

/** The shared task queue of the lifecycle workflows (`--orchestrator-queue`), unless configured. */
export const DEFAULT_ORCHESTRATOR_QUEUE = 'compute-orchestrator';

export function lifecycleWorkflowId(computeId: string): string {
  return `compute-${computeId}`;
}

/** The compute's own queue: its pod polls it for the activities of the compute's workflows. */
export function taskQueueFor(computeId: string): string {
  return `compute-${computeId}`;
}

/** The n-th start of a compute (one workflow execution per attempt). */
export function startupWorkflowId(computeId: string, attempt: number): string {
  return `${lifecycleWorkflowId(computeId)}-startup-${attempt}`;
}

export function reconfigureWorkflowId(computeId: string, attempt: number): string {
  return `${lifecycleWorkflowId(computeId)}-reconfigure-${attempt}`;
}

export function promotionWorkflowId(computeId: string, attempt: number): string {
  return `${lifecycleWorkflowId(computeId)}-promotion-${attempt}`;
}

export function terminationWorkflowId(computeId: string): string {
  return `${lifecycleWorkflowId(computeId)}-termination`;
}

/** A Static compute's LSN lease; it outlives the lifecycle's runs. */
export function leaseWorkflowId(computeId: string): string {
  return `${lifecycleWorkflowId(computeId)}-lease`;
}

/** The compute id of a lifecycle workflow id (`compute-<id>`). */
export function computeIdOf(lifecycleId: string): string {
  return lifecycleId.replace(/^compute-/, '');
}

/**
 * A compute id is letters, digits, '.', '_' and '-'; its queue must not be the orchestrators' (a
 * compute named so would poll the lifecycle workflows of every compute).
 */
export function computeIdProblem(computeId: string, orchestratorQueue: string): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(computeId)) {
    return `invalid compute id ${JSON.stringify(computeId)}: use letters, digits, '.', '_' and '-'`;
  }
  if (taskQueueFor(computeId) === orchestratorQueue) {
    return `compute id ${JSON.stringify(computeId)} would poll the orchestrators' queue ${orchestratorQueue}: choose another id`;
  }
  return null;
}
