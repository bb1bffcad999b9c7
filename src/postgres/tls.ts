// TLS for Postgres (reference §4.3 step 6, feature tls_experimental with compute_ctl_config.tls):
// the pod's key and certificate copied into PGDATA with the modes Postgres demands, after checking
// that they belong together (ECDSA P-256 only, as Neon's). A certificate being rotated may be
// half-written or not match its key for a moment: the copy is tried again every second until it works.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeOwnedFile, type RunAs } from './os';

export interface TlsFiles {
  keyPath: string;
  certPath: string;
}

export const SERVER_KEY = 'server.key';
export const SERVER_CERT = 'server.crt';

/** Why `key` and `cert` cannot serve, or null. Never quotes the key. */
export function tlsProblem(key: string, cert: string): string | null {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return `the certificate cannot be read: ${(err as Error).message}`;
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    return 'the key cannot be read';
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    return `the key is ${privateKey.asymmetricKeyType ?? 'of an unknown type'}${privateKey.asymmetricKeyDetails?.namedCurve ? ` (${privateKey.asymmetricKeyDetails.namedCurve})` : ''}: only ECDSA P-256 keys are supported`;
  }
  if (!x509.checkPrivateKey(privateKey)) return 'the key does not match the certificate';
  return null;
}

/** Copies the pair into PGDATA (0600, Postgres' user), once it is readable and matches; gives up after `waitMs`. */
export async function installTlsFiles(files: TlsFiles, pgdata: string, runAs: RunAs | null, waitMs = 60_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const [key, cert] = await Promise.all([fs.readFile(files.keyPath, 'utf8'), fs.readFile(files.certPath, 'utf8')]).catch(
      (err: NodeJS.ErrnoException) => [null, `cannot read ${err.path ?? 'the files'} (${err.code ?? err.message})`] as const,
    );
    const problem = key === null ? cert : tlsProblem(key, cert);
    if (problem === null && key !== null) {
      await writeOwnedFile(path.join(pgdata, SERVER_KEY), key, runAs, 0o600);
      await writeOwnedFile(path.join(pgdata, SERVER_CERT), cert, runAs, 0o600);
      return;
    }
    if (Date.now() > deadline) throw new Error(`TLS (${files.certPath}, ${files.keyPath}): ${problem}, still after ${waitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** The certificate file's hash, or null when it cannot be read: what the pod watches for a rotation. */
export async function certificateHash(certPath: string): Promise<string | null> {
  const cert = await fs.readFile(certPath).catch(() => null);
  return cert === null ? null : createHash('sha256').update(cert).digest('hex');
}
