// Failpoints for crash testing, like Neon's FAILPOINTS (reference §1): COMPUTE_CTL_FAILPOINTS is
// `name=action;…` with actions `kill` (SIGKILL this process: a worker dying at that point),
// `exit` (exit 1), `crash` (an exception nothing catches: a bug) and `sleep(ms)`. Unset in
// production: then every failpoint is a no-op.
export async function failpoint(name: string): Promise<void> {
  const config = process.env.COMPUTE_CTL_FAILPOINTS;
  if (!config) return;
  for (const entry of config.split(';')) {
    const [point, action = ''] = entry.split('=').map((s) => s.trim());
    if (point !== name) continue;
    if (action === 'kill') process.kill(process.pid, 'SIGKILL');
    else if (action === 'exit') process.exit(1);
    else if (action === 'crash') setImmediate(() => {
      throw new Error(`failpoint ${name}: crash`);
    });
    const sleep = /^sleep\((\d+)\)$/.exec(action);
    if (sleep) await new Promise((r) => setTimeout(r, Number(sleep[1])));
  }
}
