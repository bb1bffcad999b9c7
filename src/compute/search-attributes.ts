// The search attributes a compute's workflows carry, so an operator finds them in the Temporal UI
// and CLI by compute, tenant, timeline, status and mode (`ComputeStatus="failed"`). They must be
// registered in the namespace before a workflow may set them: the dev server registers them at
// start, `compute-ctl setup-namespace` on a real cluster, and the worker checks at boot.
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { ParsedSpec } from '../compute-spec/parse';

export const COMPUTE_ID = defineSearchAttributeKey('ComputeId', SearchAttributeType.KEYWORD);
export const TENANT_ID = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const TIMELINE_ID = defineSearchAttributeKey('TimelineId', SearchAttributeType.KEYWORD);
/** The lifecycle's status (`running`, `failed`, …), as /status says it. */
export const COMPUTE_STATUS = defineSearchAttributeKey('ComputeStatus', SearchAttributeType.KEYWORD);
/** `primary`, `replica` or `static`, once a spec is known. */
export const COMPUTE_MODE = defineSearchAttributeKey('ComputeMode', SearchAttributeType.KEYWORD);

/** Every key, for registering them (all Keyword). */
export const SEARCH_ATTRIBUTE_KEYS = [COMPUTE_ID, TENANT_ID, TIMELINE_ID, COMPUTE_STATUS, COMPUTE_MODE] as const;

/** The ids every workflow of the compute carries: its id, and the tenant, timeline and mode its spec names. */
export function computeSearchAttributes(computeId: string, spec: ParsedSpec | null): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [{ key: COMPUTE_ID, value: computeId }];
  if (spec?.tenantId) pairs.push({ key: TENANT_ID, value: spec.tenantId });
  if (spec?.timelineId) pairs.push({ key: TIMELINE_ID, value: spec.timelineId });
  if (spec) pairs.push({ key: COMPUTE_MODE, value: spec.mode.type });
  return pairs;
}
