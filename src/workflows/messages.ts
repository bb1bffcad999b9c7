// Handler definitions of the lifecycle workflow, shared by the workflow, the client and the pod.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ParsedSpec } from '../compute-spec/parse';
import type { PostmasterExitReport, Reported } from '../compute/lifecycle-state';
import type { LeaseState, LfcOffloadState, LfcPrewarmState, LfcStates, PromoteState, StatusView, TerminateMode, TerminateResult } from '../compute/views';

/** The /status body, as the lifecycle holds it (`compute-ctl status`). */
export const statusQuery = defineQuery<StatusView>('status');

/** Completes when the compute is running (its status) or failed (fails). */
export const configureUpdate = defineUpdate<Reported<StatusView>, [ParsedSpec]>('configure');
/** Completes when the compute is terminated. */
export const terminateUpdate = defineUpdate<Reported<TerminateResult>, [TerminateMode]>('terminate');

/**
 * §10: Postgres asks for its configuration to be fetched again (internal POST
 * /refresh_configuration). Completes once recorded, not when the refresh is done; `false` when the
 * compute is starting (`init`: accepted, nothing to do).
 */
export const refreshConfigurationUpdate = defineUpdate<Reported<boolean>>('refreshConfiguration');

/**
 * §6.3 /promote of a Replica: completes when the promotion and the reconfiguration as a Primary
 * have ended, either way (the answer says which); concurrent calls share one promotion.
 */
export const promoteUpdate = defineUpdate<Reported<PromoteState>, [ParsedSpec, string]>('promote');

/**
 * Pod → lifecycle: the postmaster the pod watched has exited. Recorded at once (the update ID is
 * the pid, so a report the pod sends again after an outage counts once); the main loop fails the
 * compute if that postmaster is the one its last start left running.
 */
export const postgresExitedUpdate = defineUpdate<Reported<null>, [PostmasterExitReport]>('postgresExited');

/**
 * Pod → lifecycle (§12): compute_ctl_config.tls's certificate changed on disk. A running compute is
 * reconfigured with its installed spec (the new pair copied, Postgres reloaded); completes when that
 * is done, `false` when the compute was not running (its next start copies the pair anyway).
 */
export const certificateChangedUpdate = defineUpdate<Reported<boolean>>('certificateChanged');

/** GET /lfc/prewarm and /lfc/offload as the lifecycle holds them. */
export const lfcQuery = defineQuery<LfcStates>('lfc');

/**
 * §6.3 POST /lfc/prewarm[?from_endpoint=]: the prewarm starts in the background and the update
 * completes at once (202); refused while one runs (429) or while Postgres is not up (412).
 */
export const lfcPrewarmUpdate = defineUpdate<Reported<LfcPrewarmState>, [string | null]>('lfcPrewarm');
/** §6.3 DELETE /lfc/prewarm: a running prewarm is cancelled (completes at once; nothing when none runs). */
export const lfcCancelPrewarmUpdate = defineUpdate<Reported<LfcPrewarmState>>('lfcCancelPrewarm');
/** §6.3 POST /lfc/offload: the offload starts in the background; refused while one runs (429). */
export const lfcOffloadUpdate = defineUpdate<Reported<LfcOffloadState>>('lfcOffload');

/** Lease workflow → lifecycle: the lease's state after each round. */
export const leaseUpdateSignal = defineSignal<[LeaseState]>('leaseUpdate');
/** Lifecycle → lease workflow: a new spec whose pageservers may differ (wake at once). */
export const pageserversChangedSignal = defineSignal<[ParsedSpec]>('pageserversChanged');
