// The compute-ctl command line: `worker` is the in-pod process, `orchestrator` runs the lifecycle
// workflows of every compute; the other commands are the control plane's side, talking to computes
// through Temporal.
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ComputeClient } from './client';
import { DEFAULT_ORCHESTRATOR_QUEUE } from './compute/ids';
import { findPostgres } from './postgres/pgbin';
import { defaultNeighbours, type PodNeighbours } from './activities/settings';
import { parseComputeConfig, parseComputeSpec, parseConfigurationRequest, type ParsedSpec } from './compute-spec/parse';
import { log } from './log';
import { DEFAULT_ORCHESTRATOR_OPTIONS, runOrchestrator } from './orchestrator';

const EXIT_DELAY_MS = { fast: 30_000, immediate: 300 };

/** Neon's testing override of the basebackup retries (reference §1). */
function retriesFromEnv(): number | undefined {
  const v = process.env.NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`NEON_COMPUTE_TESTING_BASEBACKUP_RETRIES must be a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('not a port number');
  return n;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive whole number');
  return n;
}

const temporalOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('--temporal-address <host:port>', 'Temporal frontend').env('TEMPORAL_ADDRESS').default('127.0.0.1:7233'))
    .addOption(new Option('--temporal-namespace <name>', 'Temporal namespace').env('TEMPORAL_NAMESPACE').default('default'))
    .addOption(
      new Option('--orchestrator-queue <name>', "the orchestrators' shared task queue of the lifecycle workflows")
        .env('COMPUTE_CTL_ORCHESTRATOR_QUEUE')
        .default(DEFAULT_ORCHESTRATOR_QUEUE),
    );

/** Runs one control-plane call through Temporal and prints its result as JSON. */
async function controlPlane(opts: { temporalAddress: string; temporalNamespace: string; orchestratorQueue: string }, call: (computes: ComputeClient) => Promise<unknown>): Promise<void> {
  // Loaded per command: the worker's boot should not pay for the control plane's modules, nor the reverse.
  const [{ Client, Connection }, { ComputeClient, DEFAULT_CLIENT_OPTIONS }, { dataConverter }] = await Promise.all([
    import('@temporalio/client'),
    import('./client'),
    import('./temporal/payload-codec'),
  ]);
  const connection = await Connection.connect({ address: opts.temporalAddress });
  try {
    const client = new Client({ connection, namespace: opts.temporalNamespace, dataConverter: dataConverter() });
    const result = await call(new ComputeClient(client, { ...DEFAULT_CLIENT_OPTIONS, orchestratorQueue: opts.orchestratorQueue }));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await connection.close();
  }
}

/** A helper's command line as given in a flag: the program and its first arguments, split on spaces. */
function splitCommand(command: string): string[] {
  const words = command.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw new Error('a helper command must not be empty');
  return words;
}

/** A spec file may hold a ConfigurationRequest, a ComputeConfig, or a bare ComputeSpec. */
async function readSpecFile(path: string): Promise<ParsedSpec | null> {
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  if (json && typeof json === 'object' && 'compute_ctl_config' in json) {
    return 'spec' in json && json.spec ? parseConfigurationRequest(json) : parseComputeConfig(json).spec;
  }
  return parseComputeSpec(json);
}

export function buildProgram(): Command {
  const program = new Command('compute-ctl').description('Neon compute_ctl on Temporal').showHelpAfterError();

  temporalOptions(
    program
      .command('worker')
      .description("run the in-pod process of one compute: the HTTP API and an activity worker on the compute's own task queue")
      .requiredOption('-D, --pgdata <dir>', 'data directory (wiped and recreated on every start)')
      .requiredOption('-C, --connstr <url>', 'the local Postgres as superuser, e.g. postgresql://cloud_admin@127.0.0.1:55432/postgres')
      .requiredOption('-i, --compute-id <id>', "compute ID (workflow compute-<id>; its steps on task queue compute-<id>)")
      .addOption(new Option('-b, --pgbin <path>', 'the postgres binary').env('POSTGRES_PATH'))
      .option('-c, --config <file>', 'ComputeConfig JSON file ({spec?, compute_ctl_config}); with a spec the compute starts at once')
      .option('-p, --control-plane-uri <url>', 'fetch the spec from the control plane instead (token: $NEON_CONTROL_PLANE_TOKEN)')
      .option('--external-http-port <port>', 'external HTTP API', port, 3080)
      .option('--internal-http-port <port>', 'internal HTTP API (written to postgresql.conf)', port, 3081)
      .option('--http-host <addr>', 'address the HTTP servers bind; a non-loopback one needs JWT keys in the startup config', '127.0.0.1')
      .option('--pg-user <user>', 'OS user that runs PostgreSQL when compute-ctl runs as root', 'postgres')
      .option('--privileged-role-name <name>', 'the "weak superuser" role given to users', 'neon_superuser')
      .option('--resize-swap-on-bind', 'resize swap to the spec\'s swap_size_bytes before Postgres starts (runs --resize-swap-helper --once <bytes>)')
      .option('--resize-swap-helper <command>', 'the swap helper', '/usr/bin/sudo /neonvm/bin/resize-swap')
      .option('--set-disk-quota-for-fs <mountpoint>', 'set the spec\'s disk_quota_bytes on this filesystem before Postgres starts (runs --disk-quota-helper <KiB> <mountpoint>)')
      .option('--disk-quota-helper <command>', 'the disk quota helper', '/usr/bin/sudo /neonvm/bin/set-disk-quota')
      .option('--pgbouncer-ini <file>', "pgbouncer's ini, where pgbouncer_settings are written (default: Neon's, by $AUTOSCALING)")
      .option('--pgbouncer-admin <url>', "pgbouncer's admin console as a postgres URL, for RELOAD (default: Neon's, by $AUTOSCALING, password $PGBOUNCER_PASSWORD)")
      .option('--pgbouncer-pid <file>', "pgbouncer's pid file (killed when the compute terminates)", '/tmp/pgbouncer.pid')
      .option('--dev', 'on an OS signal, leave pgbouncer and local_proxy running (§9; /terminate stops them when the spec uses them)')
      .option('--local-proxy-config <file>', 'where local_proxy_config is written', '/etc/local_proxy/config.json')
      .option('--local-proxy-pid <file>', "local_proxy's pid file (it is sent SIGHUP)", '/etc/local_proxy/pid')
      .option('-r, --remote-ext-base-url <url>', "the remote extensions' archive store (§2): {url}/{build tag}/{arch}/{pg version}/extensions/{ext}.tar.zst")
      .option('--tls-check-interval <seconds>', "how often compute_ctl_config.tls's certificate is checked for a rotation", count, 60)
      .addOption(new Option('--build-tag <tag>', 'build_tag metric label').env('BUILD_TAG').default('latest'))
      .addOption(new Option('--log-level <level>', 'HTTP log level').default('info')),
  ).action(async (opts) => {
    const pgdata: string = opts.pgdata;
    const { fanOutTermination, runComputeWorker } = await import('./pod/pod');
    const neighbours: PodNeighbours = {
      ...defaultNeighbours(),
      ...(opts.pgbouncerIni ? { pgbouncerIni: opts.pgbouncerIni } : {}),
      ...(opts.pgbouncerAdmin ? { pgbouncerAdmin: opts.pgbouncerAdmin } : {}),
      pgbouncerPid: opts.pgbouncerPid,
      localProxyConfig: opts.localProxyConfig,
      localProxyPid: opts.localProxyPid,
      resizeSwap: opts.resizeSwapOnBind ? splitCommand(opts.resizeSwapHelper) : null,
      diskQuota: opts.setDiskQuotaForFs ? { command: splitCommand(opts.diskQuotaHelper), mountpoint: opts.setDiskQuotaForFs } : null,
    };
    const w = await runComputeWorker({
      computeId: opts.computeId,
      pgdata,
      connstr: opts.connstr,
      postgres: findPostgres(opts.pgbin),
      configPath: opts.config,
      controlPlaneUri: opts.controlPlaneUri,
      controlPlaneToken: process.env.NEON_CONTROL_PLANE_TOKEN ?? '',
      externalHttpPort: opts.externalHttpPort,
      internalHttpPort: opts.internalHttpPort,
      httpHost: opts.httpHost,
      temporalAddress: opts.temporalAddress,
      temporalNamespace: opts.temporalNamespace,
      orchestratorQueue: opts.orchestratorQueue,
      pgUser: opts.pgUser,
      privilegedRoleName: opts.privilegedRoleName,
      tlsCheckIntervalMs: opts.tlsCheckInterval * 1000,
      remoteExtBaseUrl: opts.remoteExtBaseUrl,
      neighbours,
      buildTag: opts.buildTag,
      logLevel: opts.logLevel,
      basebackupRetries: retriesFromEnv(),
    });
    log('info', `compute ${opts.computeId}: API ${w.externalUrl}, internal ${w.internalUrl}`);
    const stopPostgresAndExit = (why: string) => {
      log('error', why);
      void fanOutTermination(pgdata, opts.dev ? null : neighbours).finally(() => process.exit(1));
    };
    // §9: an OS signal forwards termination to Postgres and exits 1 at once. The lifecycle
    // workflow lives on: a restarted worker finds the compute as it was (and Postgres gone).
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
      process.once(sig, () => stopPostgresAndExit(`${sig}: forwarding termination to Postgres, exiting`));
    }
    // A crash of the process itself must not leave its Postgres running unowned either.
    const crash = (err: unknown) =>
      stopPostgresAndExit(`the worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}; stopping Postgres, exiting`);
    process.once('uncaughtException', crash);
    process.once('unhandledRejection', crash);
    const result = await w.finished;
    // Keep serving so the control plane can read the final status (§9), then exit.
    await new Promise((r) => setTimeout(r, EXIT_DELAY_MS[result.mode]));
    await w.shutdown();
    process.exit(0);
  });

  temporalOptions(
    program
      .command('orchestrator')
      .description('run the lifecycle workflows of every compute (a workflow worker on the shared queue; run two or more)')
      .option('--max-cached-workflows <n>', 'lifecycle workflows kept in memory between their tasks', count, DEFAULT_ORCHESTRATOR_OPTIONS.maxCachedWorkflows)
      .option('--workflow-pollers <n>', "long polls on the shared queue (at least its partitions)", count, DEFAULT_ORCHESTRATOR_OPTIONS.workflowPollers)
      .option('--http-host <addr>', 'address of /healthz and /metrics', DEFAULT_ORCHESTRATOR_OPTIONS.httpHost)
      .option('--http-port <port>', 'port of /healthz and /metrics (none unless given)', port),
  ).action(async (opts) => {
    const o = await runOrchestrator({
      temporalAddress: opts.temporalAddress,
      temporalNamespace: opts.temporalNamespace,
      taskQueue: opts.orchestratorQueue,
      maxCachedWorkflows: opts.maxCachedWorkflows,
      workflowPollers: opts.workflowPollers,
      httpHost: opts.httpHost,
      httpPort: opts.httpPort ?? null,
    });
    // Temporal's runtime stops the worker on SIGINT/SIGTERM (its tasks finish first).
    await o.done;
    await o.shutdown();
    process.exit(0);
  });

  temporalOptions(
    program
      .command('start')
      .description('start (or attach to) the lifecycle workflow of a compute; it runs when its worker polls')
      .requiredOption('-i, --compute-id <id>', 'compute ID')
      .option('--spec <file>', 'spec to start with (ConfigurationRequest, ComputeConfig or ComputeSpec JSON)'),
  ).action(async (opts) => {
    const spec = opts.spec ? await readSpecFile(opts.spec) : null;
    const { ensureSearchAttributes } = await import('./client/search-attributes');
    await controlPlane(opts, async (computes) => {
      const { registered } = await ensureSearchAttributes(computes.client.connection, opts.temporalNamespace);
      await computes.ensureStarted(opts.computeId, { spec, searchAttributes: registered });
      return computes.status(opts.computeId);
    });
  });

  temporalOptions(
    program
      .command('setup-namespace')
      .description('register the search attributes computes carry (ComputeId, TenantId, TimelineId, ComputeStatus, ComputeMode) in the namespace'),
  ).action(async (opts) => {
    const { ensureSearchAttributes } = await import('./client/search-attributes');
    await controlPlane(opts, async (computes) => {
      const report = await ensureSearchAttributes(computes.client.connection, opts.temporalNamespace);
      if (!report.registered) throw new Error(report.problem ?? 'the search attributes are not registered');
      return { namespace: opts.temporalNamespace, added: report.added };
    });
  });

  temporalOptions(
    program
      .command('configure')
      .description("configure a compute and wait until it is running or failed (its lifecycle is started if its pod has not started it yet)")
      .requiredOption('-i, --compute-id <id>', 'compute ID')
      .requiredOption('--spec <file>', 'spec (ConfigurationRequest, ComputeConfig or ComputeSpec JSON)'),
  ).action(async (opts) => {
    const spec = await readSpecFile(opts.spec);
    if (!spec) throw new Error(`${opts.spec} holds no spec`);
    const { ensureSearchAttributes } = await import('./client/search-attributes');
    await controlPlane(opts, async (computes) => {
      // A pod that is still booting has not started its lifecycle: start it (or find it) here, so
      // that the configuration waits for the pod instead of answering "not found".
      const { registered } = await ensureSearchAttributes(computes.client.connection, opts.temporalNamespace);
      await computes.ensureStarted(opts.computeId, { searchAttributes: registered });
      return computes.configure(opts.computeId, spec);
    });
  });

  temporalOptions(program.command('status').description('print the /status body of a compute').requiredOption('-i, --compute-id <id>', 'compute ID')).action(
    (opts) => controlPlane(opts, (computes) => computes.status(opts.computeId)),
  );

  temporalOptions(
    program
      .command('terminate')
      .description('terminate a compute and print {"lsn": …}')
      .requiredOption('-i, --compute-id <id>', 'compute ID')
      .addOption(new Option('--mode <mode>', 'termination mode').choices(['fast', 'immediate']).default('fast')),
  ).action((opts) => controlPlane(opts, async (computes) => ({ lsn: (await computes.terminate(opts.computeId, opts.mode)).lsn })));

  program
    .command('codec-server')
    .description("serve Temporal's codec-server protocol (POST /decode, /encode) so the Temporal UI shows payloads in clear text, secrets redacted")
    .addOption(new Option('--host <addr>', 'address to bind; a non-loopback one needs --token').default('127.0.0.1'))
    .option('--port <port>', 'port', port, 8081)
    .addOption(
      new Option('--ui-origin <url...>', 'origins of the Temporal UI allowed to call it from a browser').default(['http://127.0.0.1:8233', 'http://localhost:8233']),
    )
    .addOption(new Option('--token <token>', 'bearer token every request must carry').env('COMPUTE_CTL_CODEC_TOKEN'))
    .option('--allow-no-token', "serve a non-loopback --host without a token (a container whose port is published on the host's loopback only)")
    .action(async (opts) => {
      const { payloadKey } = await import('./temporal/payload-codec');
      const key = payloadKey();
      if (!key) throw new Error('COMPUTE_CTL_PAYLOAD_KEY (or _FILE) is not set: the codec server decodes with the key the workers encrypt with');
      const { isLoopback } = await import('./loopback');
      if (!opts.token && !opts.allowNoToken && !isLoopback(opts.host)) {
        throw new Error(`--host ${opts.host} is not a loopback address: set --token (or COMPUTE_CTL_CODEC_TOKEN)`);
      }
      const { buildCodecServer } = await import('./codec-server');
      const app = await buildCodecServer({ key, origins: opts.uiOrigin, token: opts.token });
      const url = await app.listen({ host: opts.host, port: opts.port });
      log('info', `codec server on ${url} for ${opts.uiOrigin.join(', ')}${opts.token ? ' (bearer token required)' : ''}`);
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void app.close().then(() => process.exit(0)));
    });

  program
    .command('probe')
    .description("a container health probe: exit 0 when the worker's /status answers (a liveness probe: Postgres serves through a Temporal outage)")
    .option('--url <url>', 'the worker external API', 'http://127.0.0.1:3080')
    .option('--token-file <file>', 'a JWT to send (the API is authenticated when keys are configured)')
    .option('--temporal', "also require the pod to have reached its compute's lifecycle workflow on Temporal (/status not stale)")
    .option('--ready', 'also require status running')
    .option('--orchestrator', 'probe an orchestrator instead (its /healthz at --url)')
    .action(async (opts) => {
      if (opts.orchestrator) {
        const res = await fetch(`${opts.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`/healthz answered ${res.status}: ${await res.text()}`);
        return;
      }
      const token = opts.tokenFile ? (await readFile(opts.tokenFile, 'utf8')).trim() : null;
      const res = await fetch(`${opts.url}/status`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`/status answered ${res.status}`);
      const body = (await res.json()) as { status: string; stale?: { reason: string } };
      if (opts.temporal && body.stale) throw new Error(`Temporal is unreachable: ${body.stale.reason}`);
      if (opts.ready && body.status !== 'running') throw new Error(`the compute is ${body.status}, not running`);
    });

  temporalOptions(program.command('list').description('list computes known to Temporal')).action((opts) =>
    controlPlane(opts, (computes) => computes.list()),
  );

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
