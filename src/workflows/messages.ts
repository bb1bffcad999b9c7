// Handler definitions of the lifecycle workflow, shared by the workflow, the client and the API.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ParsedSpec } from '../compute-spec/parse';
import type { LeaseState, StatusView, TerminateMode, TerminateResult } from '../compute/status';

export const statusQuery = defineQuery<StatusView>('status');
/** Completes when the compute is running (returns the status) or failed (fails). */
export const configureUpdate = defineUpdate<StatusView, [ParsedSpec]>('configure');
/** Completes when the compute is terminated. */
export const terminateUpdate = defineUpdate<TerminateResult, [TerminateMode]>('terminate');

/** Lease workflow → lifecycle: the lease's state after each round. */
export const leaseUpdateSignal = defineSignal<[LeaseState]>('leaseUpdate');
/** Lifecycle → lease workflow: a new spec whose pageservers may differ (wake at once). */
export const pageserversChangedSignal = defineSignal<[ParsedSpec]>('pageserversChanged');
