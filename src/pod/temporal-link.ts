// Whether the pod reaches Temporal, known without traffic of its own at rest. The pod's activity
// poller holds one long poll; Core counts its polls, and the pod reads those counts on loopback
// when someone asks (/status, /metrics): a poll outstanding means Temporal answers, none and failed
// ones mean it does not. The pod's own calls say so too. Before an operation, a TCP connect to the
// frontend tells a Temporal that is down (refused: answer 503 at once) from one that is slow (the
// operation goes ahead): a stale view of reachability never refuses work.
import net from 'node:net';
import { ComputeError } from '../compute/failures';
import type { StaleMark } from '../compute/views';
import { log } from '../log';
import type { PollCounts } from '../temporal/core-runtime';

/** The mark a pod starts with, until it has reached its compute's lifecycle. */
export const CONNECTING = 'connecting to Temporal';
/** A gone frontend refuses at once; an unreachable host is given this long. */
const CONNECT_TIMEOUT_MS = 2_000;
/** How old the poller's verdict may be when /status asks. */
const POLL_CHECK_MS = 1_000;
/** Between a long poll's end and the next there is a moment without one: look twice. */
const SECOND_LOOK_MS = 250;

export class TemporalLink {
  private callMark: StaleMark | null;
  private pollMark: StaleMark | null = null;
  private polls: (() => Promise<PollCounts | null>) | null = null;
  private pollCheckedAt = 0;
  private pollCheck: Promise<void> | null = null;
  /** The pod has reached its lifecycle once: from then on an answering poller clears any mark. */
  private attached = false;
  private troubled!: () => void;
  /** Resolves the first time Temporal is found away. */
  readonly firstTrouble = new Promise<void>((resolve) => (this.troubled = resolve));

  constructor(private readonly address: string) {
    // Until the pod has reached Temporal, what it serves is its own (a kept view, or a new compute's).
    this.callMark = { since: new Date().toISOString(), reason: CONNECTING };
  }

  /** A call of the pod's found Temporal away. */
  unreachable(reason: string): void {
    this.troubled();
    if (this.callMark) this.callMark.reason = reason;
    else {
      this.callMark = { since: new Date().toISOString(), reason };
      log('warn', `Temporal does not answer (${reason}): serving the last known status`);
    }
  }

  /** The pod has reached its compute's lifecycle. */
  attach(): void {
    this.attached = true;
    this.reached();
  }

  /** A call of the pod's was answered. */
  reached(): void {
    if (this.callMark && this.callMark.reason !== CONNECTING) log('info', `Temporal answers again (unreachable since ${this.callMark.since})`);
    this.callMark = null;
    this.pollMark = null;
  }

  /** From now on the activity poller's counts tell whether Temporal answers. */
  watchPoller(polls: () => Promise<PollCounts | null>): void {
    this.polls = polls;
  }

  /** Set while Temporal does not answer the pod: what it serves may be behind. */
  stale(): StaleMark | null {
    if (this.polls && Date.now() - this.pollCheckedAt >= POLL_CHECK_MS) {
      this.pollCheck ??= this.checkPoller().finally(() => {
        this.pollCheckedAt = Date.now();
        this.pollCheck = null;
      });
    }
    return this.callMark ?? this.pollMark;
  }

  private async checkPoller(): Promise<void> {
    const polling = async () => {
      const c = await this.polls!().catch(() => null);
      return c === null ? null : { outstanding: c.started - c.ended > 0, failed: c.failed };
    };
    let seen = await polling();
    if (seen === null) return;
    if (!seen.outstanding && seen.failed > 0) {
      await new Promise((r) => setTimeout(r, SECOND_LOOK_MS));
      seen = (await polling()) ?? seen;
    }
    if (seen.outstanding || seen.failed === 0) {
      if (this.pollMark) log('info', `Temporal answers the activity poller again (unreachable since ${this.pollMark.since})`);
      this.pollMark = null;
      // Temporal answers the poller: a call that failed earlier is no reason to say otherwise now.
      if (this.attached && this.callMark) this.reached();
    } else if (!this.pollMark) {
      this.pollMark = { since: new Date().toISOString(), reason: `the activity poller cannot reach Temporal at ${this.address} (${seen.failed} polls failed)` };
      log('warn', `Temporal does not answer (${this.pollMark.reason}): serving the last known status`);
    }
  }

  /** Refuses at once (503) when nothing listens at Temporal's address; otherwise lets the call go. */
  async gate(): Promise<void> {
    const refused = await connectProblem(this.address);
    if (refused === null) return;
    this.unreachable(refused);
    const since = (this.callMark ?? this.pollMark)!.since;
    throw new ComputeError('unavailable', `Temporal is unreachable since ${since} (${refused}); the compute keeps running, try again later`);
  }
}

/** Why a TCP connection to host:port cannot be made, or null when it can. */
function connectProblem(address: string): Promise<string | null> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | null) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(`no answer from ${address} within ${CONNECT_TIMEOUT_MS} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err) => done(`${address}: ${err.message}`));
  });
}
