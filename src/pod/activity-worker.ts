// The pod's Temporal worker: activities only, on the compute's own queue, with one long poll. The
// lifecycle workflows run on the orchestrators; every step of this compute comes here.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { DataConverter } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { ActivityHooks } from '../activities';
import type { ComputeSettings } from '../activities/settings';
import { taskQueueFor } from '../compute/ids';

export interface ActivityWorker {
  worker: Worker;
  /** Unique per process (a container's pid is the same after every restart): a new pod tells its predecessor's attempts from its own by it. */
  identity: string;
  /** Settles when the worker has stopped. */
  running: Promise<void>;
}

export async function startActivityWorker(
  connection: NativeConnection,
  namespace: string,
  settings: ComputeSettings,
  converter: DataConverter | undefined,
  hooks: ActivityHooks,
): Promise<ActivityWorker> {
  const [{ Worker }, { createActivities }] = await Promise.all([import('@temporalio/worker'), import('../activities')]);
  const identity = `${process.pid}@${os.hostname()}/${randomBytes(4).toString('hex')}`;
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: taskQueueFor(settings.computeId),
    identity,
    dataConverter: converter,
    activities: createActivities(settings, hooks),
    // One long poll per compute at rest (docs/fleet.md): a fleet's cost in Temporal pollers.
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 1 },
  });
  const running = worker.run();
  return { worker, identity, running };
}
