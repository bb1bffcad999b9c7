// Activities that do nothing but what a test tells them, and count their calls. The postmaster is a
// promise the test resolves to make Postgres "exit".
import { Context } from '@temporalio/activity';
import type { ComputeActivities } from '../../src/activities';
import type { PostmasterExit } from '../../src/compute/status';

type Name = keyof ComputeActivities;
type Impl = { [K in Name]: ComputeActivities[K] };

export interface FakeCompute {
  activities: ComputeActivities;
  /** Calls per activity name, each with its arguments. */
  calls: Record<string, unknown[][]>;
  count(name: Name): number;
  /** Makes the running Postgres exit as given (the watch activity returns it). */
  exitPostgres(exit: PostmasterExit): void;
  /** A gate the named activity waits at, until released. */
  hold(name: Name): { release(): void; reached: Promise<void> };
}

/** `overrides` replace single activities; the rest succeed at once. */
export function fakeCompute(overrides: Partial<Impl> = {}): FakeCompute {
  const calls: Record<string, unknown[][]> = {};
  const gates = new Map<string, { wait: Promise<void>; arrived: () => void }>();
  let exitPostgres: (exit: PostmasterExit) => void = () => {};
  let postgresExit: Promise<PostmasterExit> = new Promise((r) => (exitPostgres = r));

  const defaults: Impl = {
    preparePgdata: async () => {},
    determineStartLsn: async () => ({ lsn: '0/16B3748', checkMs: 1, syncMs: 2 }),
    fetchBasebackup: async () => ({ bytes: 1234, connectMicros: 56 }),
    finalizePgdata: async () => {},
    startPostgres: async () => {
      postgresExit = new Promise((r) => (exitPostgres = r));
      return { pid: 4242 };
    },
    applyCatalog: async () => ({ statements: 0, phases: [], pendingRestart: [] }),
    reloadConfig: async () => {},
    runMigrations: async () => null,
    stopPostgres: async () => {
      exitPostgres({ code: 0, signal: null });
      return { code: 0, signal: null };
    },
    finalLsn: async () => '0/16B37F0',
    acquireLeases: async () => ({ validUntilMs: Date.now() + 3_600_000 }),
    fetchConfig: async () => ({ spec: null }),
    promoteReplica: async () => {},
    watchPostgres: async () => {
      // Cancelled when the lifecycle stops watching (termination, continue-as-new).
      return Promise.race([postgresExit, Context.current().cancelled]);
    },
  };

  const activities = {} as Record<Name, (...args: never[]) => Promise<unknown>>;
  for (const name of Object.keys(defaults) as Name[]) {
    activities[name] = async (...args: never[]) => {
      (calls[name] ??= []).push(args);
      const gate = gates.get(name);
      if (gate) {
        gate.arrived();
        await gate.wait;
      }
      const impl = (overrides[name] ?? defaults[name]) as (...a: never[]) => Promise<unknown>;
      return impl(...args);
    };
  }
  return {
    activities: activities as unknown as ComputeActivities,
    calls,
    count: (name) => calls[name]?.length ?? 0,
    exitPostgres: (exit) => exitPostgres(exit),
    hold(name) {
      let release!: () => void;
      let arrived!: () => void;
      const wait = new Promise<void>((r) => (release = r));
      const reached = new Promise<void>((r) => (arrived = r));
      gates.set(name, { wait, arrived });
      return {
        reached,
        release: () => {
          gates.delete(name);
          release();
        },
      };
    },
  };
}
