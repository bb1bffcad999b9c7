// How many postmasters run on a PGDATA: what "no second start" means on the machine.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Postmasters running on PGDATA: processes whose command line is exactly `<postgres> -D <pgdata>`
 * and whose parent is not one of them (a backend just forked keeps its postmaster's command line
 * until it sets its own title).
 */
export function postmasters(postgres: string, pgdata: string): number {
  let pids: string[];
  try {
    pids = execFileSync('pgrep', ['-xf', `${postgres} -D ${pgdata}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return 0;
  }
  const parentOf = (pid: string) => {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after the ')'.
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1];
    } catch {
      return null; // exited meanwhile
    }
  };
  return pids.filter((pid) => {
    const parent = parentOf(pid);
    return parent !== null && !pids.includes(parent);
  }).length;
}

