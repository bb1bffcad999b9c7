// JWT authentication of the external API, exactly as reference §6.2 has it: `Authorization: Bearer`,
// the keys of compute_ctl_config.jwks tried in turn (EdDSA, or RS256 when a key says so), `exp`
// checked only when present (60 s leeway), `nbf` ignored, `scope` absent or `compute_ctl:admin`; an
// admin token must name the `compute` audience, any other must carry this compute's id.
import { compactVerify, importJWK, type JWK, type KeyLike } from 'jose';
import type { JwkJson } from '../compute-spec/schema';
import { RequestError } from './common';
import { log } from '../log';

export const ADMIN_SCOPE = 'compute_ctl:admin';
const LEEWAY_S = 60;

/** Tokens whose signature verified, with their claims: the control plane sends the same few again and again. */
const VERIFIED_CACHE_SIZE = 64;

const INVALID_TOKEN = 'invalid authorization token';
const NOT_VERIFIED = 'failed to verify authorization token';

export interface Authenticator {
  /** Resolves if the Authorization header admits the request; else throws the §6.2 RequestError. */
  check(authorization: string | undefined): Promise<void>;
}

/** The authenticator for these keys, or null when there are none (no authentication). */
export async function createAuthenticator(
  jwks: readonly JwkJson[],
  computeId: string,
  warn: (message: string) => void = (m) => log('warn', m),
): Promise<Authenticator | null> {
  if (jwks.length === 0) return null;
  const algorithm = jwks.some((k) => k.alg === 'RS256') ? 'RS256' : 'EdDSA';
  const keys: (KeyLike | Uint8Array)[] = [];
  for (const [i, jwk] of jwks.entries()) {
    const { kty, crv } = jwk as JWK;
    const fits = algorithm === 'EdDSA' ? kty === 'OKP' && crv === 'Ed25519' : kty === 'RSA';
    try {
      if (!fits) throw new Error(`kty ${kty}${crv ? `, crv ${crv}` : ''}`);
      keys.push(await importJWK(jwk as JWK, algorithm));
    } catch (err) {
      warn(`compute_ctl_config.jwks.keys[${i}] is not a usable ${algorithm} key (${(err as Error).message}); it verifies no token`);
    }
  }
  // A signature check costs more than the rest of a /status (EdDSA verify under load); the keys do
  // not change while the process runs, so a token that verified once verifies again. The claims
  // (expiry included) are checked on every request.
  const verified = new Map<string, Record<string, unknown>>();
  return {
    async check(authorization) {
      const m = /^Bearer +(\S+)$/.exec(authorization ?? '');
      if (!m) throw new RequestError(400, INVALID_TOKEN);
      let claims = verified.get(m[1]);
      if (!claims) {
        claims = await verifiedClaims(m[1], keys, algorithm);
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
        verified.set(m[1], claims);
      }
      checkClaims(claims, computeId);
    },
  };
}

async function verifiedClaims(token: string, keys: (KeyLike | Uint8Array)[], algorithm: string): Promise<Record<string, unknown>> {
  for (const key of keys) {
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(token, key, { algorithms: [algorithm] }));
    } catch {
      continue;
    }
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload).toString('utf8'));
    } catch {
      throw new RequestError(401, NOT_VERIFIED);
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new RequestError(401, NOT_VERIFIED);
    return claims as Record<string, unknown>;
  }
  throw new RequestError(401, NOT_VERIFIED);
}

function checkClaims(claims: Record<string, unknown>, computeId: string): void {
  const { exp, scope, aud } = claims;
  if (exp !== undefined && exp !== null) {
    if (typeof exp !== 'number' || Date.now() / 1000 > exp + LEEWAY_S) throw new RequestError(401, NOT_VERIFIED);
  }
  if (scope !== undefined && scope !== null && scope !== ADMIN_SCOPE) throw new RequestError(401, NOT_VERIFIED);
  if (scope === ADMIN_SCOPE) {
    if (aud === undefined || aud === null) throw new RequestError(401, 'missing audience in authorization token claims');
    if (!Array.isArray(aud) || !aud.every((a) => typeof a === 'string')) throw new RequestError(401, NOT_VERIFIED);
    if (!aud.includes('compute')) throw new RequestError(401, 'invalid audience in authorization token claims');
    return;
  }
  const id = claims.compute_id;
  if (id === undefined || id === null) throw new RequestError(403, 'missing compute_id in authorization token claims');
  if (typeof id !== 'string') throw new RequestError(401, NOT_VERIFIED);
  if (id !== computeId) throw new RequestError(403, 'invalid compute ID in authorization token claims');
}
