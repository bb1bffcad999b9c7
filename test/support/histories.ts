// Recording workflow histories for the replay test: `RECORD_HISTORIES=1 npm test` (or a single
// integration test file) writes `{workflowId, history}` of the workflows of the workflows a test ran into test/histories/.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.join(__dirname, '../../../test/histories');

export async function recordHistories(client: Client, name: string, workflowIds: string[]): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  await mkdir(HISTORIES_DIR, { recursive: true });
  for (const workflowId of workflowIds) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const type = workflowId.replace(/^compute-[^-]+(-\d+)*-?/, '').replace(/-\d+$/, '') || 'lifecycle';
    // The workflow ID is kept beside the history: replay needs it (children are named after it).
    const recorded = { workflowId, history: JSON.parse(historyToJSON(history)) };
    await writeFile(path.join(HISTORIES_DIR, `${name}.${type}.json`), `${JSON.stringify(recorded)}\n`);
  }
}
