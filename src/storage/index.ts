import type { ParsedSpec } from '../compute-spec/parse';
import { neonStorage } from './neon';
import { postgresStorage } from './upstream-postgres';
import type { StorageBackend } from './types';

export type { StorageBackend, StorageContext, BasebackupResult, StartLsn } from './types';

export function storageFor(parsed: ParsedSpec): StorageBackend {
  return parsed.storage.type === 'postgres' ? postgresStorage : neonStorage;
}
