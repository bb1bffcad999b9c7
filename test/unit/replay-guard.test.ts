// Proof that the recorded histories guard every path: each change below would break running
// computes, and replaying test/histories against a copy of the workflow code with that change must
// fail. (The unchanged code replays them all: replay.test.ts.)
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { installRuntime } from '../../src/temporal/core-runtime';
import { failingReplays } from '../support/histories';

const COMPILED = path.join(__dirname, '../../src');

/** A change to the compiled workflow code: `find` must occur exactly once in `file`. */
interface Mutation {
  name: string;
  file: string;
  find: string;
  replace: (found: string) => string;
}

const MUTATIONS: Mutation[] = [
  {
    name: 'autoprewarm no longer prewarms after a start',
    file: 'workflows/compute-lifecycle.js',
    find: 'if (spec.spec.autoprewarm)',
    replace: () => 'if (false)',
  },
  {
    name: 'a second timer in each round of the periodic LFC offload',
    file: 'workflows/lfc.js',
    find: 'await wf.sleep(seconds * 1000);',
    replace: (found) => `${found} await wf.sleep(1);`,
  },
  {
    name: 'the lease is no longer cancelled on terminate',
    file: 'workflows/compute-lifecycle.js',
    find: 'await wf.getExternalWorkflowHandle((0, ids_1.leaseWorkflowId)(this.state.computeId)).cancel().catch(() => undefined);',
    replace: () => 'void 0;',
  },
  {
    name: 'new pageservers are no longer signalled to the lease',
    file: 'workflows/compute-lifecycle.js',
    find: 'await wf.getExternalWorkflowHandle((0, ids_1.leaseWorkflowId)(this.state.computeId)).signal(messages_1.pageserversChangedSignal, spec).catch(() => undefined);',
    replace: () => 'void 0;',
  },
  {
    name: 'continue-as-new disabled',
    file: 'workflows/compute-lifecycle.js',
    find: "return 'continue_as_new';",
    replace: () => 'return null;',
  },
  {
    name: 'an activity added on the path of Postgres dying',
    file: 'workflows/compute-lifecycle.js',
    find: 'failOnPostgresExit() {',
    replace: (found) => `${found} this.steps.reloadConfig(this.state.spec).catch(() => undefined);`,
  },
  {
    name: 'the pod is no longer sent the status views',
    file: 'workflows/compute-lifecycle.js',
    find: 'tellPod() {',
    replace: (found) => `${found} return;`,
  },
  {
    name: "a timer added on the lease's error path",
    file: 'workflows/lease.js',
    find: "Object.assign(state, { status: 'retrying', error: (0, errors_1.errorChain)(err) });",
    replace: (found) => `${found} await wf.sleep(1);`,
  },
];

describe('the recorded histories guard every path', { timeout: 600_000 }, () => {
  const copies: string[] = [];
  after(() => copies.forEach((d) => rmSync(d, { recursive: true, force: true })));

  for (const m of MUTATIONS) {
    test(`replay fails when ${m.name}`, async () => {
      await installRuntime('ERROR');
      // Inside dist/, so that the bundler resolves @temporalio/* from the project's node_modules.
      const dir = mkdtempSync(path.join(COMPILED, '..', 'mutant-'));
      copies.push(dir);
      cpSync(COMPILED, dir, { recursive: true });
      const file = path.join(dir, m.file);
      const code = readFileSync(file, 'utf8');
      assert.equal(code.split(m.find).length - 1, 1, `${m.file} holds the code to change exactly once (update the mutation if the code moved)`);
      writeFileSync(file, code.replace(m.find, m.replace(m.find)));
      const failed = await failingReplays(path.join(dir, 'workflows', 'index.js'));
      assert.ok(failed.length > 0, `every recorded history still replays with ${m.name}`);
    });
  }
});
