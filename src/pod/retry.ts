// The pod's patience with Temporal at boot: a step retried until it succeeds or the pod stops,
// backing off, each new reason it fails for logged once (Temporal unreachable at boot must not be
// fatal: the pod comes up when Temporal does).
import { log } from '../log';

const RETRY_MS = { first: 250, max: 5_000 };

/** An error with its causes, as one line ("Failed to start Workflow: 14 UNAVAILABLE: …"). */
export function reasonOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) {
    if (!parts.includes(e.message)) parts.push(e.message);
  }
  return parts.join(': ') || String(err);
}

export async function untilDone<T>(what: string, step: () => Promise<T>, stopped: () => boolean, onFailure: (reason: string) => void): Promise<T | null> {
  let delay = RETRY_MS.first;
  let said = '';
  while (!stopped()) {
    try {
      const result = await step();
      if (said) log('info', `${what}: done`);
      return result;
    } catch (err) {
      const reason = reasonOf(err);
      onFailure(reason);
      if (reason !== said) log('warn', `${what} failed, retrying: ${reason}`);
      said = reason;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, RETRY_MS.max);
    }
  }
  return null;
}
