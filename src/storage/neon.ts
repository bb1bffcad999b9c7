// Neon's storage protocols (safekeepers, pageserver). Not implemented yet: a spec that selects
// Neon storage fails its startup with this clear, non-retryable error instead of pretending.
import { ApplicationFailure } from '@temporalio/common';
import type { StorageBackend } from './types';

function notImplemented(): never {
  throw ApplicationFailure.nonRetryable(
    'the neon storage backend (safekeepers, pageserver basebackup) is not implemented yet; ' +
      'use the postgres storage backend (spec field storage: {"type": "postgres", "connstring": "..."})',
    'StorageNotImplemented',
  );
}

export const neonStorage: StorageBackend = {
  primaryStartLsn: async () => notImplemented(),
  basebackup: async () => notImplemented(),
  finalLsn: async () => null,
};
