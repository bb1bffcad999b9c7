// The start LSN of a Primary from the safekeepers (reference §4.4): a TIMELINE_STATUS quorum check
// (fast path), else `postgres --sync-safekeepers`.
import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { PgLogForwarder } from '../../postgres/pg-log';
import { postgresEnv, spawnOptions, type RunAs } from '../../postgres/os';
import { formatLsn, parseLsn } from '../../compute/lsn';

const CHECK_TIMEOUT_MS = 100;

/** The running `--sync-safekeepers` child, so a termination signal can reach it (§9). */
let syncChild: ChildProcess | null = null;

export function terminateSyncSafekeepers(): void {
  syncChild?.kill('SIGTERM');
}

interface Answer {
  ok: boolean;
  status?: { flush: bigint; commit: bigint } | null;
}

async function timelineStatus(address: string, tenant: string, timeline: string, token: string | null): Promise<Answer> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const client = new Client({
    host,
    port,
    user: 'no_user',
    password: token ?? undefined,
    options: `-c timeline_id=${timeline} tenant_id=${tenant}`,
    connectionTimeoutMillis: CHECK_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async (): Promise<Answer> => {
    await client.connect();
    const { rows } = await client.query<{ flush_lsn: string; commit_lsn: string }>('TIMELINE_STATUS');
    if (rows.length === 0) return { ok: true, status: null };
    return { ok: true, status: { flush: parseLsn(rows[0].flush_lsn), commit: parseLsn(rows[0].commit_lsn) } };
  })();
  const timeout = new Promise<Answer>((resolve) => (timer = setTimeout(() => resolve({ ok: false }), CHECK_TIMEOUT_MS)));
  try {
    return await Promise.race([attempt.catch((): Answer => ({ ok: false })), timeout]);
  } finally {
    clearTimeout(timer);
    void client.end().catch(() => undefined);
  }
}

/**
 * The fast path: the LSN if a quorum (n/2+1) of safekeepers answered, all know the timeline and
 * agree on commit_lsn = flush_lsn; null otherwise (then sync-safekeepers decides).
 */
export async function checkSafekeepersSynced(safekeepers: string[], tenant: string, timeline: string, token: string | null): Promise<string | null> {
  const quorum = Math.floor(safekeepers.length / 2) + 1;
  const answers = await new Promise<Answer[]>((resolve) => {
    const good: Answer[] = [];
    let bad = 0;
    for (const sk of safekeepers) {
      void timelineStatus(sk, tenant, timeline, token).then((a) => {
        if (a.ok) good.push(a);
        else bad++;
        if (good.length === quorum) resolve(good);
        else if (bad === quorum || good.length + bad === safekeepers.length) resolve([]);
      });
    }
  });
  if (answers.length < quorum || answers.some((a) => !a.status)) return null;
  const [first] = answers;
  const synced = answers.every((a) => a.status!.commit === first.status!.commit && a.status!.flush === first.status!.flush);
  return synced && first.status!.commit === first.status!.flush ? formatLsn(first.status!.commit) : null;
}

/**
 * `<postgres> --sync-safekeepers` with PGDATA (it reads neon.safekeepers etc. from the freshly
 * written postgresql.conf) and NEON_AUTH_TOKEN; the one stdout line is the LSN.
 */
export async function syncSafekeepers(postgres: string, pgdata: string, token: string | null, runAs: RunAs | null): Promise<string> {
  const env = postgresEnv(token, { PGDATA: pgdata });
  const child = spawn(postgres, ['--sync-safekeepers'], spawnOptions(runAs, { env, cwd: pgdata, stdio: ['ignore', 'pipe', 'pipe'] }));
  syncChild = child;
  new PgLogForwarder(child.stderr!);
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  try {
    const status = await new Promise<string>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code === 0 ? 'ok' : code !== null ? `exit status: ${code}` : `signal: ${signal}`));
    });
    if (status !== 'ok') {
      throw new Error(`postgres --sync-safekeepers exited with non-zero status: ${status}. stdout: ${stdout.trim()}`);
    }
    return formatLsn(parseLsn(stdout.trim()));
  } finally {
    if (syncChild === child) syncChild = null;
  }
}
