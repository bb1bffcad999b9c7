// One reconfiguration of a running compute (reference §5.1, "Reconfigure"): rewrite
// postgresql.conf, reload, and (Primary) apply the spec's roles and databases.
import { ApplicationFailure } from '@temporalio/workflow';
import type { ParsedSpec } from '../spec/parse';
import { acts } from './activity-proxies';
import { errorChain } from './errors';

export interface ReconfigureInput {
  spec: ParsedSpec;
}

export async function computeReconfigure(input: ReconfigureInput): Promise<void> {
  try {
    await acts.reloadConfig(input.spec);
    await acts.applyCatalog(input.spec);
  } catch (err) {
    throw ApplicationFailure.create({ message: errorChain(err), type: 'ReconfigureFailed', nonRetryable: true });
  }
}
