import net from 'node:net';

// Below Linux's ephemeral range (32768-60999): a port the kernel hands out for port 0 may be given
// again to any outgoing connection before the server meant for it binds it (a Postgres started
// seconds later then fails with "Address already in use").
const RANGE = { from: 20_000, to: 32_767 };

/** A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = RANGE.from + Math.floor(Math.random() * (RANGE.to - RANGE.from + 1));
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port in ${RANGE.from}-${RANGE.to}`);
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
