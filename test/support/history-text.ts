// What a Temporal client without the payload key reads of a workflow: its history as JSON, every
// payload in it (inputs, results, memos, headers, update arguments, failure details) decoded from
// base64, so that a test can search the lot for a secret and check how each payload is encoded.
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export interface StoredPayload {
  /** Where in the history (a JSON path). */
  at: string;
  encoding: string;
  metadata: Record<string, Buffer>;
  data: Buffer;
}

/** Every `{metadata, data}` payload in a history (or any JSON value), found without recursion. */
export function payloadsIn(value: unknown): StoredPayload[] {
  const found: StoredPayload[] = [];
  const todo: [unknown, string][] = [[value, '$']];
  while (todo.length) {
    const [v, at] = todo.pop()!;
    if (!v || typeof v !== 'object') continue;
    const o = v as Record<string, unknown>;
    const metadata = o.metadata as Record<string, string> | undefined;
    if (metadata && typeof metadata === 'object' && typeof metadata.encoding === 'string' && ('data' in o || Object.keys(o).length === 1)) {
      found.push({
        at,
        encoding: Buffer.from(metadata.encoding, 'base64').toString(),
        metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        data: Buffer.from(typeof o.data === 'string' ? o.data : '', 'base64'),
      });
      continue;
    }
    for (const [k, child] of Object.entries(o)) todo.push([child, `${at}.${k}`]);
  }
  return found;
}

/** A keyless client's view of these workflows: the history JSON plus every payload's bytes as text. */
export async function keylessView(client: Client, workflowIds: string[]): Promise<{ text: string; payloads: StoredPayload[] }> {
  let text = '';
  const payloads: StoredPayload[] = [];
  for (const id of workflowIds) {
    const json = historyToJSON(await client.workflow.getHandle(id).fetchHistory());
    const found = payloadsIn(JSON.parse(json)).map((p) => ({ ...p, at: `${id}${p.at.slice(1)}` }));
    payloads.push(...found);
    text += `${json}\n${found.map((p) => p.data.toString('utf8')).join('\n')}\n`;
  }
  return { text, payloads };
}
