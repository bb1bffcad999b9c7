// The compute's postmaster: started (§4.7) and stopped (§9). The pod itself watches it while the
// compute runs (pod/postmaster-watch.ts): no activity runs for as long as Postgres does.
import { ComputeFailure, FAILURE } from '../compute/failures';
import type { ParsedSpec } from '../compute-spec/parse';
import type { TerminateMode } from '../compute/views';
import { postgresEnv } from '../postgres/os';
import { awaitAdoptedReady, livePostmasterPid, startPostmaster, stopPostmaster, type PostmasterExit } from '../postgres/postmaster';
import type { ComputeSettings } from './settings';

export function postgresActivities(s: ComputeSettings) {
  return {
    /** §4.7: spawn `postgres -D <pgdata>` and wait until postmaster.pid says ready. */
    async startPostgres(parsed: ParsedSpec): Promise<{ pid: number }> {
      const env = postgresEnv(parsed.spec.storage_auth_token);
      // A retry after the worker died may find the postmaster it had started: adopt it, never double it.
      const running = await livePostmasterPid(s.pgdata);
      if (running !== null) {
        await awaitAdoptedReady(s.pgdata, running);
        return { pid: running };
      }
      try {
        const pid = await startPostmaster({ postgres: s.postgres, pgdata: s.pgdata, runAs: s.runAs, env });
        return { pid };
      } catch (err) {
        // A retry would wipe nothing and meet the same configuration: let the workflow decide.
        throw ComputeFailure.permanent(FAILURE.postgresStartFailed, (err as Error).message);
      }
    },

    /** fast = SIGINT (fast shutdown: clients disconnected, shutdown checkpoint); immediate = SIGQUIT. */
    async stopPostgres(mode: TerminateMode): Promise<PostmasterExit | null> {
      return stopPostmaster(s.pgdata, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    },
  };
}
