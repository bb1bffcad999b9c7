// The activities as the workflows call them, each with its own policy from policies.ts.
import { proxyActivities } from '@temporalio/workflow';
import type { ComputeActivities } from '../activities';
import { POLICIES } from './policies';

type Name = keyof typeof POLICIES & keyof ComputeActivities;

function act<K extends Name>(name: K): ComputeActivities[K] {
  return proxyActivities<ComputeActivities>(POLICIES[name])[name];
}

export const acts = {
  preparePgdata: act('preparePgdata'),
  determineStartLsn: act('determineStartLsn'),
  fetchBasebackup: act('fetchBasebackup'),
  finalizePgdata: act('finalizePgdata'),
  startPostgres: act('startPostgres'),
  applyCatalog: act('applyCatalog'),
  reloadConfig: act('reloadConfig'),
  runMigrations: act('runMigrations'),
  stopPostgres: act('stopPostgres'),
  finalLsn: act('finalLsn'),
  acquireLeases: act('acquireLeases'),
  watchPostgres: act('watchPostgres'),
  fetchConfig: act('fetchConfig'),
  promoteReplica: act('promoteReplica'),
};
