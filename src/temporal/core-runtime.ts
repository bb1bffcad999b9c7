// The Temporal Core runtime is process-wide and can be installed once. Its metrics (task latencies,
// poll results, slots) are exported in Prometheus format on a loopback port: the pod serves them at
// /metrics/temporal and reads its poller's counts there; an orchestrator serves them at /metrics.
import { createServer } from 'node:net';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { log } from '../log';
import { omitEmptyFamilies } from '../compute/exposition';

let installed = false;
let metricsUrl: string | null = null;
/** The last exposition read from Core's exporter, when, and the read in flight. */
const scraped: { text: string | null; at: number; pending: Promise<string | null> | null } = { text: null, at: 0, pending: null };

/** A port free on the loopback interface right now. */
function loopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function installRuntime(level: LogLevel = 'WARN'): Promise<void> {
  if (installed) return;
  installed = true;
  const port = await loopbackPort();
  try {
    Runtime.install({
      // No periodic worker heartbeats to the server: an idle pod sends Temporal nothing but its poll.
      workerHeartbeatInterval: 0,
      // JSON lines as the process's own (src/log.ts), with the SDK's workflow and activity ids.
      logger: new DefaultLogger(level, ({ level: l, message, meta }) => {
        // By design a pod's worker has no workflows and an orchestrator's no activities: not worth a warning.
        if (message === 'No workflows registered, not polling for workflow tasks' || message === 'No activities registered, not polling for activity tasks') return;
        log(l === 'WARN' ? 'warn' : l === 'ERROR' ? 'error' : l === 'DEBUG' || l === 'TRACE' ? 'debug' : 'info', message, meta ?? {});
      }),
      telemetryOptions: {
        // Core's own logs at the same level. (Not forwarded to the TS logger: forwarding polls on a
        // timer that keeps a process without connections alive.)
        logging: { filter: { core: level, other: level } },
        // Prometheus conventions: counters end in _total, durations in seconds.
        metrics: { prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true, useSecondsForDurations: true } },
      },
    });
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
  } catch {
    // already instantiated with defaults (e.g. by a test harness): no Core metrics then
  }
}

/** Core's long polls of one task queue: how many were started, ended, and failed. */
export interface PollCounts {
  started: number;
  ended: number;
  failed: number;
}

/**
 * The counts of Core's polls of `taskQueue` (operation `operation`), read now from its exporter on
 * loopback (no Temporal traffic); null before the runtime is installed.
 */
export async function corePollCounts(taskQueue: string, operation = 'PollActivityTaskQueue'): Promise<PollCounts | null> {
  if (metricsUrl === null) return null;
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) })).text();
  const counts: PollCounts = { started: 0, ended: 0, failed: 0 };
  const ours = `operation="${operation}"`;
  const queue = `task_queue="${taskQueue}"`;
  for (const line of text.split('\n')) {
    if (!line.startsWith('temporal_long_request') || !line.includes(ours) || !line.includes(queue)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('temporal_long_request_total{')) counts.started += value;
    else if (line.startsWith('temporal_long_request_latency_count{')) counts.ended += value;
    else if (line.startsWith('temporal_long_request_failure_total{')) counts.failed += value;
  }
  return counts;
}

/**
 * Core's exposition (its empty families left out), fetched from its exporter at most once a second
 * and in the background: callers get the last one at once, only the first waits for it. A fetch per
 * scrape would make scrapes as slow as Core's exporter under load. Null until the runtime is
 * installed with its exporter.
 */
export function coreMetrics(): Promise<string | null> {
  if (metricsUrl !== null && Date.now() - scraped.at >= 1_000) {
    const url = metricsUrl;
    scraped.pending ??= (async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      scraped.text = res.ok ? omitEmptyFamilies(await res.text()) : null;
      scraped.at = Date.now();
      return scraped.text;
    })()
      .catch(() => scraped.text)
      .finally(() => (scraped.pending = null));
  }
  return scraped.text !== null ? Promise.resolve(scraped.text) : (scraped.pending ?? Promise.resolve(null));
}
