// Encryption of Temporal payloads (workflow inputs and results, activity arguments, memos): specs
// carry password hashes, storage tokens and connection strings, which must not sit readable in
// Temporal's history and UI. Failure messages stay plain text, so operators still read why a start
// failed. Enabled by COMPUTE_CTL_PAYLOAD_KEY (32 bytes, base64), which the workers and the control
// plane share.
import { readFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const ENCODING = 'binary/encrypted';
const ProtoPayload = temporal.api.common.v1.Payload;

export class AesGcmCodec implements PayloadCodec {
  private readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('COMPUTE_CTL_PAYLOAD_KEY must be 32 bytes (base64-encoded)');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const body = Buffer.concat([cipher.update(ProtoPayload.encode(p).finish()), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.keyId) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCODING) return p;
      const keyId = Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString();
      if (keyId !== this.keyId) throw new Error(`payload encrypted with another key (${keyId}); check COMPUTE_CTL_PAYLOAD_KEY`);
      const data = Buffer.from(p.data ?? []);
      const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, 12));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return ProtoPayload.decode(Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()])) as Payload;
    });
  }
}

/**
 * The payload key: COMPUTE_CTL_PAYLOAD_KEY, or the file COMPUTE_CTL_PAYLOAD_KEY_FILE names (a
 * mounted secret, as in the compose stack and Kubernetes).
 */
export function payloadKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.COMPUTE_CTL_PAYLOAD_KEY) return env.COMPUTE_CTL_PAYLOAD_KEY;
  const file = env.COMPUTE_CTL_PAYLOAD_KEY_FILE;
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`COMPUTE_CTL_PAYLOAD_KEY_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The data converter for workers and clients: encrypting when a key is configured. */
export function dataConverter(key = payloadKey()): DataConverter | undefined {
  if (!key) return undefined;
  return { payloadCodecs: [new AesGcmCodec(Buffer.from(key, 'base64'))] };
}
