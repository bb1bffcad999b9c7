// `npm run bench [-- startup [N]]` (default), or `npm run bench -- <reconfigure|neon|api|boot|recovery|catalog|soak|fleet> [N]`.
import { installRuntime } from '../src/temporal/core-runtime';
import { benchApi } from './api';
import { benchBoot } from './boot';
import { benchCatalog } from './catalog';
import { benchFleet } from './fleet';
import { benchNeon } from './neon';
import { benchReconfigure } from './reconfigure';
import { benchRecovery } from './recovery';
import { benchSoak } from './soak';
import { benchStartup } from './startup';

async function main(): Promise<void> {
  const [which = 'startup', n] = process.argv.slice(2);
  installRuntime('ERROR');
  if (which === 'startup') await benchStartup(Number(n ?? process.env.BENCH_N ?? 10));
  else if (which === 'catalog') await benchCatalog(Number(n ?? 100));
  else if (which === 'boot') await benchBoot(Number(n ?? 5));
  else if (which === 'api') await benchApi(Number(n ?? 2000));
  else if (which === 'neon') await benchNeon(Number(n ?? 10));
  else if (which === 'recovery') await benchRecovery(Number(n ?? 10));
  else if (which === 'reconfigure') await benchReconfigure(Number(n ?? 100));
  else if (which === 'soak') await benchSoak(Number(n ?? 10));
  else if (which === 'fleet') await benchFleet(Number(n ?? 50));
  else throw new Error(`unknown benchmark ${which}: use startup, reconfigure, neon, api, boot, recovery, catalog, soak or fleet`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
