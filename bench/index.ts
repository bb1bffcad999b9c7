// `npm run bench [-- startup [N]]` (default) or `npm run bench -- catalog [N]`.
import { installRuntime } from '../src/runtime';
import { benchCatalog } from './catalog';
import { benchStartup } from './startup';

async function main(): Promise<void> {
  const [which = 'startup', n] = process.argv.slice(2);
  installRuntime('ERROR');
  if (which === 'startup') await benchStartup(Number(n ?? process.env.BENCH_N ?? 10));
  else if (which === 'catalog') await benchCatalog(Number(n ?? 100));
  else throw new Error(`unknown benchmark ${which}: use startup or catalog`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
