// The Temporal Core runtime is process-wide and can be installed once.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

export function installRuntime(level: LogLevel = 'WARN'): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({
      logger: new DefaultLogger(level),
      // Core's own logs at the same level. (Not forwarded to the TS logger: forwarding polls on a
      // timer that keeps a process without connections alive.)
      telemetryOptions: { logging: { filter: { core: level, other: level } } },
    });
  } catch {
    // already instantiated with defaults (e.g. by a test harness)
  }
}
