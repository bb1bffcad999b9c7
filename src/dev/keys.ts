// The JWT key of a local stack (npm run dev, docker compose): the worker's startup config carrying
// the public key, and an admin token signed with the private one (§6.2). Made once per data
// directory and kept there (owner-only files), with the key that encrypts Temporal payloads;
// `node dist/src/dev/keys.js <dir>` makes them for compose.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ADMIN_SCOPE } from '../api/auth';

export interface DevKeys {
  /** A ComputeConfig file without a spec: `{"compute_ctl_config": {"jwks": {"keys": [<public key>]}}}`. */
  configPath: string;
  /** `scope: compute_ctl:admin`, `aud: ["compute"]`, no expiry: for this local stack only. */
  adminToken: string;
}

export async function devKeys(dir: string): Promise<DevKeys> {
  const configPath = path.join(dir, 'compute-ctl.json');
  const tokenPath = path.join(dir, 'admin.token');
  if (existsSync(configPath) && existsSync(tokenPath)) {
    return { configPath, adminToken: (await readFile(tokenPath, 'utf8')).trim() };
  }
  await mkdir(dir, { recursive: true });
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const adminToken = await new SignJWT({ scope: ADMIN_SCOPE, aud: ['compute'] }).setProtectedHeader({ alg: 'EdDSA' }).setIssuedAt().sign(privateKey);
  const config = { compute_ctl_config: { jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'EdDSA', use: 'sig' }] } } };
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  await writeFile(tokenPath, `${adminToken}\n`, { mode: 0o600 });
  return { configPath, adminToken };
}

/**
 * The payload key of a local stack, kept beside its data (owner-only): the one given in
 * COMPUTE_CTL_PAYLOAD_KEY, else the one made on the first run.
 */
export async function devPayloadKey(dir: string, given = process.env.COMPUTE_CTL_PAYLOAD_KEY): Promise<{ key: string; path: string }> {
  const file = path.join(dir, 'payload.key');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  const key = given || existing || randomBytes(32).toString('base64');
  if (key !== existing) {
    await mkdir(dir, { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
  }
  return { key, path: file };
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node dist/src/dev/keys.js <directory>');
    process.exit(2);
  }
  Promise.all([devKeys(dir), devPayloadKey(dir)]).then(
    ([k, p]) => console.error(`keys: ${k.configPath} (public key), ${path.join(dir, 'admin.token')} (admin token), ${p.path} (payload key)`),
    (err) => {
      console.error(`keys: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
