// Error texts for /status.error: the message and its causes, rendered like anyhow's `{:?}` (the
// form Neon's control plane sees), without Temporal's own wrapper messages.
import { ActivityFailure, ChildWorkflowFailure } from '@temporalio/common';

function messages(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  while (e) {
    const wrapper = e instanceof ActivityFailure || e instanceof ChildWorkflowFailure;
    if (!wrapper && e instanceof Error && e.message) out.push(e.message);
    else if (!wrapper && !(e instanceof Error)) out.push(String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return out.filter((m, i) => m !== out[i - 1]);
}

/**
 * The first message of an error's chain: the message of a failure that carries the rest as its
 * cause (errorChain renders the whole once, with no line twice).
 */
export function headline(err: unknown): string {
  return messages(err)[0] ?? 'unknown error';
}

export function errorChain(err: unknown): string {
  const [first = 'unknown error', ...causes] = messages(err);
  if (causes.length === 0) return first;
  if (causes.length === 1) return `${first}\n\nCaused by:\n    ${causes[0]}`;
  return `${first}\n\nCaused by:\n${causes.map((c, i) => `    ${i}: ${c}`).join('\n')}`;
}

/** The chain on one line, `outer: cause: cause` (anyhow's `{:#}`, the form of Neon's LFC `error` fields). */
export function errorText(err: unknown): string {
  return messages(err).join(': ') || 'unknown error';
}
