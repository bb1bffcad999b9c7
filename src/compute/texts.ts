// Texts that several layers must say alike.
import type { ComputeStatus } from './status';
import type { PostmasterExit } from './views';

/** Why Postgres is gone, as /status.error says it (§4.7's text). */
export function postgresExitMessage(exit: PostmasterExit): string {
  if (exit.code !== null) return `Postgres exited unexpectedly with code ${exit.code}`;
  if (exit.signal) return `Postgres exited unexpectedly: killed by signal ${exit.signal}`;
  // A postmaster adopted from a worker that died: its exit status cannot be known.
  return 'Postgres exited unexpectedly';
}

/** Display form used in error texts and the `compute_ctl_up` metric label. */
export function displayStatus(status: ComputeStatus): string {
  return status.replace(/_/g, '-');
}

/** Rust's Debug name of a status (`RefreshConfigurationPending`), as Neon's texts print it. */
export function debugName(status: ComputeStatus): string {
  return status.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
}

export function refreshRefusedMessage(status: ComputeStatus): string {
  return `Cannot refresh compute configuration in state ${debugName(status)}`;
}

export function invalidStatusMessage(status: ComputeStatus): string {
  return `invalid compute status: ${displayStatus(status)}`;
}
