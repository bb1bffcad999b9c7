// The one wrapper around every activity: heartbeats, failpoints, and the one place where domain
// failures become Temporal failures.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ComputeFailure } from '../compute/failures';
import { failpoint } from '../postgres/failpoints';

/** Heartbeat when running as an activity; a no-op when a step is called directly (bench). */
function heartbeat(): void {
  try {
    Context.current().heartbeat();
  } catch {
    // not inside an activity
  }
}

/** A ComputeFailure as the Temporal failure of its type, retryable or not; anything else as is. */
function toTemporalFailure(err: unknown): unknown {
  if (!(err instanceof ComputeFailure)) return err;
  return ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: !err.retryable });
}

/**
 * Every activity heartbeats every second while it runs (so a dead worker is noticed within the
 * heartbeat timeout and the step is retried elsewhere), passes failpoints `<name>-before` and
 * `<name>-after`, and reports a ComputeFailure as a Temporal failure of its type.
 */
export function instrumented<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      const tick = setInterval(heartbeat, 1000);
      try {
        await failpoint(`${name}-before`);
        const result = await fn(...args);
        await failpoint(`${name}-after`);
        return result;
      } catch (err) {
        throw toTemporalFailure(err);
      } finally {
        clearInterval(tick);
      }
    };
  }
  return out as T;
}
