// The lifecycle's status views reach the pod as an activity on the compute's queue: the pod keeps
// the newest and answers /status, /metrics and its probes from it, without a Temporal round trip.
import type { PodReport } from '../compute/lifecycle-state';

export function reportActivities(onReport: (report: PodReport) => void) {
  return {
    async reportStatus(report: PodReport): Promise<void> {
      onReport(report);
    },
  };
}
