// Activities that do nothing but what a test tells them, and count their calls. Postgres is a pid
// the fake "starts"; a test makes it exit, and the exit goes to the lifecycle as the pod's watch
// sends it (the postgresExited update).
import type { ComputeActivities } from '../../src/activities';
import type { PodReport, PostmasterExitReport } from '../../src/compute/lifecycle-state';
import type { PostmasterExit } from '../../src/compute/views';

type Name = keyof ComputeActivities;
type Impl = { [K in Name]: ComputeActivities[K] };

export interface FakeCompute {
  activities: ComputeActivities;
  /** Calls per activity name, each with its arguments. */
  calls: Record<string, unknown[][]>;
  count(name: Name): number;
  /** The status reports the lifecycle sent the "pod", in order of arrival. */
  reports: PodReport[];
  /** Where the postmaster's exits go (as the pod's watch sends them): set by the test's harness. */
  deliverTo(fn: (report: PostmasterExitReport) => Promise<void>): void;
  /** The running postmaster exits as given; resolves once the lifecycle has the report. */
  exitPostgres(exit: PostmasterExit): Promise<void>;
  /** The pid of the postmaster the last startPostgres started. */
  readonly pid: number;
  /** A gate the named activity waits at, until released. */
  hold(name: Name): { release(): void; reached: Promise<void> };
}

/** `overrides` replace single activities; the rest succeed at once. */
export function fakeCompute(overrides: Partial<Impl> = {}): FakeCompute {
  const calls: Record<string, unknown[][]> = {};
  const reports: PodReport[] = [];
  const gates = new Map<string, { wait: Promise<void>; arrived: () => void }>();
  let pid = 4241;
  let running = false;
  let deliver: ((report: PostmasterExitReport) => Promise<void>) | null = null;
  const exit = async (how: PostmasterExit, byTest: boolean) => {
    if (!running) return;
    running = false;
    if (deliver) await deliver({ pid, exit: how });
    else if (byTest) throw new Error('the fake compute has nowhere to report its postmaster exit: call deliverTo');
  };

  const defaults: Impl = {
    preparePgdata: async () => {},
    determineStartLsn: async () => ({ lsn: '0/16B3748', checkMs: 1, syncMs: 2 }),
    fetchBasebackup: async () => ({ bytes: 1234, connectMicros: 56 }),
    finalizePgdata: async () => {},
    startPostgres: async () => {
      pid++;
      running = true;
      return { pid };
    },
    applyCatalog: async () => ({ statements: 0, phases: [], pendingRestart: [] }),
    reloadConfig: async () => {},
    runMigrations: async () => null,
    // The pod's watch reports every exit, its own stops too: the lifecycle must not fail on those.
    stopPostgres: async () => {
      await exit({ code: 0, signal: null }, false);
      return { code: 0, signal: null };
    },
    finalLsn: async () => '0/16B37F0',
    acquireLeases: async () => ({ validUntilMs: Date.now() + 3_600_000 }),
    fetchConfig: async () => ({ spec: null }),
    promoteReplica: async () => {},
    reportStatus: async (report) => void reports.push(report),
    resizeSwap: async () => ({ ran: true }),
    setDiskQuota: async () => ({ ran: true }),
    configureLocalProxy: async () => ({ pid: 4000 }),
    tunePgbouncer: async () => {},
    stopNeighbours: async () => ({ pgbouncer: null, localProxy: null }),
    prewarmLfc: async () => ({ status: 'completed', total: 3, prewarmed: 3, skipped: 0, state_download_time_ms: 1, uncompress_time_ms: 1, prewarm_time_ms: 1 }),
    offloadLfc: async () => ({ status: 'completed', state_query_time_ms: 1, compress_time_ms: 1, state_upload_time_ms: 1 }),
    prepareRemoteExtensions: async () => ({ load_ext_ms: 1, num_ext_downloaded: 1, largest_ext_size: 10, total_ext_download_size: 10, failures: [] }),
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
    reports,
    deliverTo: (fn) => (deliver = fn),
    exitPostgres: (how) => exit(how, true),
    get pid() {
      return pid;
    },
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
