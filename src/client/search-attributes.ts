// Registering the compute search attributes in a namespace (Temporal's operator service), for
// `compute-ctl setup-namespace` and the worker's check at boot.
import type { ConnectionLike } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_KEYS } from '../compute/search-attributes';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
/** gRPC codes that mean "Temporal is not there (yet)": retried by the caller, not a verdict. */
const UNREACHABLE = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);

export interface SearchAttributesReport {
  /** Every compute attribute exists as a Keyword in the namespace. */
  registered: boolean;
  /** The ones this call added. */
  added: string[];
  /** Why they are not registered (permission, a clash of types): for the log. */
  problem: string | null;
}

export function isUnreachable(err: unknown): boolean {
  return UNREACHABLE.has((err as { code?: number }).code ?? -1);
}

async function listed(connection: ConnectionLike, namespace: string): Promise<Map<string, number>> {
  const r = await connection.operatorService.listSearchAttributes({ namespace });
  return new Map(Object.entries(r.customAttributes ?? {}).map(([k, v]) => [k, Number(v)]));
}

/**
 * Adds the compute search attributes that are missing and waits until the namespace lists them.
 * Throws only when Temporal is unreachable (isUnreachable); any other refusal is reported.
 */
export async function ensureSearchAttributes(connection: ConnectionLike, namespace: string): Promise<SearchAttributesReport> {
  const names = SEARCH_ATTRIBUTE_KEYS.map((k) => k.name);
  try {
    const have = await listed(connection, namespace);
    const clash = names.filter((n) => have.has(n) && have.get(n) !== KEYWORD);
    if (clash.length > 0) {
      return { registered: false, added: [], problem: `${clash.join(', ')} exist in namespace ${namespace} with a type other than Keyword` };
    }
    const missing = names.filter((n) => !have.has(n));
    if (missing.length === 0) return { registered: true, added: [], problem: null };
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((n) => [n, KEYWORD])) });
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const now = await listed(connection, namespace);
      if (names.every((n) => now.has(n))) return { registered: true, added: missing, problem: null };
    }
    return { registered: false, added: [], problem: `added ${missing.join(', ')} to namespace ${namespace}, but they are not listed after 30 s` };
  } catch (err) {
    if (isUnreachable(err)) throw err;
    return { registered: false, added: [], problem: `could not register ${names.join(', ')} in namespace ${namespace}: ${(err as Error).message}` };
  }
}
