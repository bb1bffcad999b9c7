// LSN lease renewal for a Static compute (reference §8.2) as durable workflow logic: one round of
// leases, then a workflow timer until max(valid − 60 s, valid / 2), woken early when /configure
// changes the pageservers; errors back off 0.5 s × 1.5 up to 60 s; a refusal stops it for good
// (the compute keeps running). It continues-as-new so a compute that runs for weeks keeps a small
// history, and reports its state to the lifecycle workflow for /status and /metrics.
import * as wf from '@temporalio/workflow';
import type { ParsedSpec } from '../compute-spec/parse';
import { stepsOf } from './activity-proxies';
import { errorChain } from './errors';
import { leaseUpdateSignal, pageserversChangedSignal } from './messages';
import type { LeaseState } from '../compute/views';

export const LEASE_REFUSED = 'Permanent error: lease could not be obtained, LSN is behind the GC cutoff';
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 60_000;

export interface LeaseInput {
  /** The compute whose pod asks the pageservers. */
  computeId: string;
  spec: ParsedSpec;
  /** The lifecycle workflow to report to. */
  parentId: string;
  /** Rounds per run before continue-as-new (tests lower it). */
  roundsPerRun?: number;
  state?: LeaseState;
}

export async function lsnLease(input: LeaseInput): Promise<LeaseState> {
  let spec = input.spec;
  let changed = false;
  wf.setHandler(pageserversChangedSignal, (next) => {
    spec = next;
    changed = true;
  });
  const lsn = spec.mode.type === 'static' ? spec.mode.lsn : '0/0';
  const state: LeaseState = input.state ?? { status: 'acquiring', lsn, valid_until: null, renewals: 0, error: null };
  const parent = wf.getExternalWorkflowHandle(input.parentId);
  const report = () => parent.signal(leaseUpdateSignal, { ...state }).catch(() => undefined);
  let backoff = FIRST_BACKOFF_MS;
  const steps = stepsOf(input.computeId);

  for (let round = 1; ; round++) {
    changed = false;
    let sleepMs: number;
    try {
      const outcome = await steps.acquireLeases(spec);
      if ('refused' in outcome) {
        Object.assign(state, { status: 'refused', valid_until: null, error: LEASE_REFUSED });
        wf.log.warn(LEASE_REFUSED, { lsn });
        await report();
        return state;
      }
      const validMs = outcome.validUntilMs - Date.now();
      sleepMs = Math.max(validMs - 60_000, validMs / 2, 0);
      backoff = FIRST_BACKOFF_MS;
      Object.assign(state, { status: 'held', valid_until: new Date(outcome.validUntilMs).toISOString(), renewals: state.renewals + 1, error: null });
      wf.log.info(`Request succeeded, sleeping for ${Math.round(sleepMs / 1000)} seconds`, { lsn });
    } catch (err) {
      sleepMs = backoff;
      backoff = Math.min(backoff * 1.5, MAX_BACKOFF_MS);
      Object.assign(state, { status: 'retrying', error: errorChain(err) });
    }
    await report();
    await wf.condition(() => changed, sleepMs);
    if (!changed && round >= (input.roundsPerRun ?? 500)) {
      await wf.continueAsNew<typeof lsnLease>({ ...input, spec, state });
    }
  }
}
