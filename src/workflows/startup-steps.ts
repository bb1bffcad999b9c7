// The startup sequence (reference §4.2-§4.7) written once, over an interface of steps: the
// computeStartup workflow runs it with activities, the benchmark runs it with direct calls, so both
// measure the same sequence. Deterministic: no I/O here, only the steps and the clock given.
import { wantsTls, type ParsedSpec } from '../compute-spec/parse';
import type { LocalProxySpec } from '../compute-spec/schema';
import type { StartupMetrics, TerminateMode } from '../compute/views';

export interface StartupSteps {
  preparePgdata(parsed: ParsedSpec): Promise<void>;
  determineStartLsn(parsed: ParsedSpec): Promise<{ lsn: string; checkMs: number; syncMs: number }>;
  fetchBasebackup(parsed: ParsedSpec, lsn: string): Promise<{ bytes: number; connectMicros: number }>;
  finalizePgdata(parsed: ParsedSpec): Promise<void>;
  startPostgres(parsed: ParsedSpec): Promise<{ pid: number }>;
  applyCatalog(parsed: ParsedSpec): Promise<{ statements: number; pendingRestart: string[] }>;
  stopPostgres(mode: TerminateMode): Promise<unknown>;
  resizeSwap(bytes: number): Promise<unknown>;
  setDiskQuota(bytes: number): Promise<unknown>;
  configureLocalProxy(config: LocalProxySpec, tls: boolean): Promise<unknown>;
  prepareRemoteExtensions(parsed: ParsedSpec): Promise<{ load_ext_ms: number; num_ext_downloaded: number; largest_ext_size: number; total_ext_download_size: number }>;
}

export interface StepTiming {
  step: string;
  ms: number;
}

export interface StartupResult {
  lsn: string;
  pid: number;
  pendingRestart: string[];
  steps: StepTiming[];
  metrics: Partial<StartupMetrics>;
}

/** A failed step: `context` is the reference's error text for that step. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    readonly context: string,
    override readonly cause: unknown,
  ) {
    super(context);
    this.name = 'StepError';
  }
}

export async function runStartupSteps(steps: StartupSteps, parsed: ParsedSpec, now: () => number): Promise<StartupResult> {
  const timings: StepTiming[] = [];
  async function step<T>(name: string, context: string, fn: () => Promise<T>): Promise<T> {
    const t0 = now();
    try {
      return await fn();
    } catch (err) {
      throw new StepError(name, context, err);
    } finally {
      timings.push({ step: name, ms: now() - t0 });
    }
  }
  const ms = (name: string) => timings.find((t) => t.step === name)?.ms ?? 0;

  await step('prepare_pgdata', 'failed to prepare the data directory', () => steps.preparePgdata(parsed));
  // §4.2 step 2: before Postgres starts; the pod runs the helpers only with their flags.
  const { swap_size_bytes: swap, disk_quota_bytes: quota, local_proxy_config: localProxy } = parsed.spec;
  if (swap !== undefined && swap !== null) await step('resize_swap', 'failed to resize swap', () => steps.resizeSwap(swap));
  if (quota !== undefined && quota !== null) await step('disk_quota', 'failed to set the disk quota', () => steps.setDiskQuota(quota));
  const extensions = parsed.spec.remote_extensions
    ? await step('remote_extensions', 'failed to prepare the remote extensions', () => steps.prepareRemoteExtensions(parsed))
    : null;
  const lsnContext = parsed.storage.type === 'neon' ? 'failed to sync safekeepers' : 'failed to get the start LSN from the upstream';
  const { lsn, checkMs, syncMs } = await step('sync_safekeepers', lsnContext, () => steps.determineStartLsn(parsed));
  const backup = await step('basebackup', `failed to get basebackup@${lsn}`, () => steps.fetchBasebackup(parsed, lsn));
  await step('finalize_pgdata', 'failed to prepare the data directory', () => steps.finalizePgdata(parsed));
  const { pid } = await step('start_postgres', 'failed to start Postgres', () => steps.startPostgres(parsed));
  let catalog: { pendingRestart: string[] };
  try {
    catalog = await step('apply_config', 'failed to apply the spec to the catalog', () => steps.applyCatalog(parsed));
    // §5.1 step 3: fatal at a first start.
    if (localProxy) await step('local_proxy', 'failed to configure local_proxy', () => steps.configureLocalProxy(localProxy, wantsTls(parsed)));
  } catch (err) {
    // §4.1 step 7: a failed start does not leave Postgres running.
    await steps.stopPostgres('immediate').catch(() => undefined);
    throw err;
  }
  return {
    lsn,
    pid,
    pendingRestart: catalog.pendingRestart,
    steps: timings,
    metrics: {
      sync_sk_check_ms: checkMs,
      sync_safekeepers_ms: syncMs,
      basebackup_ms: ms('basebackup'),
      basebackup_bytes: backup.bytes,
      pageserver_connect_micros: backup.connectMicros,
      start_postgres_ms: ms('start_postgres'),
      config_ms: ms('apply_config'),
      ...(extensions
        ? {
            load_ext_ms: extensions.load_ext_ms,
            num_ext_downloaded: extensions.num_ext_downloaded,
            largest_ext_size: extensions.largest_ext_size,
            total_ext_download_size: extensions.total_ext_download_size,
          }
        : {}),
    },
  };
}
