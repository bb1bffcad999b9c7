// What the lifecycle workflow tells the worker process it runs in: every new status view, so that
// /status and /metrics answer from the process's memory instead of a Temporal round trip.
import { proxySinks, type Sinks } from '@temporalio/workflow';
import type { StatusView } from '../compute/status';

export interface ComputeSinks extends Sinks {
  compute: {
    /** The compute's status view changed (also called while a history is replayed). */
    status(view: StatusView): void;
  };
}

export const sinks = proxySinks<ComputeSinks>();
