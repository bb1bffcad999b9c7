// Recording workflow histories for the replay test: `RECORD_HISTORIES=1 npm test` (or a single
// integration test file) writes `{workflowId, history}` of the workflows of the workflows a test ran into test/histories/.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';

export const HISTORIES_DIR = path.join(__dirname, '../../../test/histories');

/**
 * Every run of each workflow (a workflow that continued as new has several: the runs before the
 * last end in continue-as-new, a path replay must guard too), oldest first: `<name>.<type>.json`
 * for a single run, `<name>.<type>.run<n>.json` for several.
 */
export async function recordHistories(client: Client, name: string, workflowIds: string[]): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  await mkdir(HISTORIES_DIR, { recursive: true });
  for (const workflowId of workflowIds) {
    const runs: { runId: string; startTime: Date }[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push({ runId: w.runId, startTime: w.startTime });
    runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
    const type = workflowId.replace(/^compute-[^-]+(-\d+)*-?/, '').replace(/-\d+$/, '') || 'lifecycle';
    for (const [i, { runId }] of runs.entries()) {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      // The workflow ID is kept beside the history: replay needs it (children are named after it).
      const recorded = { workflowId, history: JSON.parse(historyToJSON(history)) };
      const file = runs.length === 1 ? `${name}.${type}.json` : `${name}.${type}.run${i + 1}.json`;
      await writeFile(path.join(HISTORIES_DIR, file), `${JSON.stringify(recorded)}\n`);
    }
  }
}

/** The recorded histories, by file name. */
export function recordedHistories() {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const recorded = JSON.parse(readFileSync(path.join(HISTORIES_DIR, f), 'utf8'));
      return { workflowId: recorded.workflowId as string, history: historyFromJSON(recorded.history), file: f };
    });
}

/** The recorded histories the workflow code at `workflowsPath` fails to replay: `file: error` each. */
export async function failingReplays(workflowsPath: string): Promise<string[]> {
  const histories = recordedHistories();
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowsPath, replayName: 'compute-ctl-replay', sinks: { compute: { status: { fn: () => undefined, callDuringReplay: true } } } },
    histories,
  )) {
    if (result.error) failures.push(`${histories.find((h) => h.workflowId === result.workflowId)?.file ?? result.workflowId}: ${result.error.message}`);
  }
  return failures;
}
