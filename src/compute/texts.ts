// Texts that several layers must say alike.
import type { PostmasterExit } from './status';

/** Why Postgres is gone, as /status.error says it (§4.7's text). */
export function postgresExitMessage(exit: PostmasterExit): string {
  if (exit.code !== null) return `Postgres exited unexpectedly with code ${exit.code}`;
  if (exit.signal) return `Postgres exited unexpectedly: killed by signal ${exit.signal}`;
  // A postmaster adopted from a worker that died: its exit status cannot be known.
  return 'Postgres exited unexpectedly';
}
