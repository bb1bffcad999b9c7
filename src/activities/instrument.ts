// The one wrapper around every activity: heartbeats and failpoints.
import { Context } from '@temporalio/activity';
import { failpoint } from '../postgres/failpoints';

/** Heartbeat when running as an activity; a no-op when a step is called directly (bench). */
function heartbeat(): void {
  try {
    Context.current().heartbeat();
  } catch {
    // not inside an activity
  }
}

/** The activity's cancellation signal; undefined when a step is called directly. */
export function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/**
 * Every activity heartbeats every second while it runs (so a dead worker is noticed within the
 * heartbeat timeout and the step is retried elsewhere) and passes failpoints `<name>-before` and
 * `<name>-after`.
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
      } finally {
        clearInterval(tick);
      }
    };
  }
  return out as T;
}
