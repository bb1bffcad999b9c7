// The workflow code as one bundle, made once at build time (`npm run build`, the image) rather than
// at every worker start: webpack takes seconds, and a pod's boot is on a compute's critical path.
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const WORKFLOWS_PATH = path.join(__dirname, 'workflows');
export const BUNDLE_PATH = path.join(__dirname, 'workflows.bundle.js');

/** The worker option for the workflow code: the pre-built bundle, else the sources (bundled now). */
export function workflowCode(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  return existsSync(BUNDLE_PATH) ? { workflowBundle: { codePath: BUNDLE_PATH } } : { workflowsPath: require.resolve(WORKFLOWS_PATH) };
}

export async function writeWorkflowBundle(): Promise<void> {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(WORKFLOWS_PATH),
    // Line-level source maps without the sources: stack traces still name our files and lines, and
    // the worker holds ~20 MB less than with the full inline map.
    webpackConfigHook: (config) => ({ ...config, devtool: 'inline-nosources-cheap-source-map' }),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: (m) => console.error(m), error: (m) => console.error(m) },
  });
  // Written beside this module, then renamed: a half-written bundle is never picked up.
  await writeFile(`${BUNDLE_PATH}.tmp`, code);
  await rename(`${BUNDLE_PATH}.tmp`, BUNDLE_PATH);
}

if (require.main === module) {
  writeWorkflowBundle().catch((err) => {
    console.error(`cannot bundle the workflow code: ${(err as Error).message}`);
    process.exit(1);
  });
}
