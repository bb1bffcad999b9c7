// The neon extension's communicator process serves HTTP on a Unix socket in PGDATA; compute-ctl
// proxies `/autoscaling_metrics` to it (reference §6.3).
import http from 'node:http';
import path from 'node:path';

export const COMMUNICATOR_SOCKET = 'neon-communicator.socket';

export interface Proxied {
  status: number;
  contentType: string;
  body: Buffer;
}

export function getFromCommunicator(pgdata: string, urlPath: string, timeoutMs = 10_000): Promise<Proxied> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: path.join(pgdata, COMMUNICATOR_SOCKET), path: urlPath, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 500, contentType: String(res.headers['content-type'] ?? 'text/plain'), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
