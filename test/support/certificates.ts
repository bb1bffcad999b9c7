// Certificates for the TLS tests, made by openssl.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** A self-signed ECDSA P-256 pair for `cn`, written to key<name>.pem and cert<name>.pem in `dir`. */
export function makeCertificate(dir: string, cn: string, name = ''): { keyPath: string; certPath: string } {
  const keyPath = path.join(dir, `key${name}.pem`);
  const certPath = path.join(dir, `cert${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', `/CN=${cn}`], { stdio: 'ignore' });
  return { keyPath, certPath };
}
