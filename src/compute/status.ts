// The compute state machine of reference §3: the statuses, the transitions between them, and the
// statuses each request is accepted in. Pure data and functions: imported by workflow code
// (deterministic sandbox) and by the HTTP layer alike.
import type { TerminateMode } from './views';

export const COMPUTE_STATUSES = [
  'empty',
  'configuration_pending',
  'init',
  'running',
  'configuration',
  'failed',
  'termination_pending_fast',
  'termination_pending_immediate',
  'terminated',
  'refresh_configuration_pending',
  'refresh_configuration',
] as const;

export type ComputeStatus = (typeof COMPUTE_STATUSES)[number];

const TRANSITIONS: Record<ComputeStatus, readonly ComputeStatus[]> = {
  empty: ['configuration_pending', 'init', 'termination_pending_fast', 'termination_pending_immediate'],
  // → failed: Postgres exited before the pending reconfiguration began (the request answers with it).
  configuration_pending: ['init', 'configuration', 'failed'],
  init: ['running', 'failed'],
  running: [
    'configuration_pending',
    'refresh_configuration_pending',
    'termination_pending_fast',
    'termination_pending_immediate',
    'failed', // Postgres exited on its own (see lifecycle workflow)
  ],
  configuration: ['running', 'failed'],
  // Deliberate fix over upstream (§13): a failed compute can still be terminated.
  failed: ['refresh_configuration_pending', 'termination_pending_fast', 'termination_pending_immediate'],
  termination_pending_fast: ['terminated'],
  termination_pending_immediate: ['terminated'],
  terminated: [],
  // → failed: Postgres exited meanwhile.
  refresh_configuration_pending: ['refresh_configuration', 'refresh_configuration_pending', 'failed'],
  // → termination_pending_immediate: the control plane answered that the compute is no longer
  // attached (§10: compute_ctl exits; here the lifecycle ends, and the process with it).
  // → failed: Postgres exited meanwhile, or is not running (a refresh of a compute whose start failed).
  refresh_configuration: ['running', 'refresh_configuration_pending', 'termination_pending_immediate', 'failed'],
};

export function canTransition(from: ComputeStatus, to: ComputeStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function terminationPending(mode: TerminateMode): ComputeStatus {
  return mode === 'fast' ? 'termination_pending_fast' : 'termination_pending_immediate';
}

export function isTerminationPending(status: ComputeStatus): boolean {
  return status === 'termination_pending_fast' || status === 'termination_pending_immediate';
}

/** States in which `/configure` is accepted (§6.3). */
export const CONFIGURE_ALLOWED: readonly ComputeStatus[] = ['empty', 'running'];

/** States in which `/terminate` starts a termination (§6.3, plus `failed`: see TRANSITIONS). */
export const TERMINATE_ALLOWED: readonly ComputeStatus[] = ['empty', 'running', 'failed'];

/** States in which `/refresh_configuration` is accepted (§10); in `init` it is a no-op. */
export const REFRESH_ALLOWED: readonly ComputeStatus[] = ['running', 'failed', 'refresh_configuration_pending', 'init'];
