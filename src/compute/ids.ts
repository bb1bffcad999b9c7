// Names in Temporal: the lifecycle workflow and task queue of a compute (public: the control plane
// and operators find computes by them).

export function lifecycleWorkflowId(computeId: string): string {
  return `compute-${computeId}`;
}

export function taskQueueFor(computeId: string): string {
  return `compute-${computeId}`;
}
