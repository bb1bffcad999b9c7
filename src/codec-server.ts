// Temporal's codec-server protocol for the Temporal UI and CLI (`POST /decode`, `POST /encode`):
// payloads encrypted with COMPUTE_CTL_PAYLOAD_KEY become readable, minus the secrets in them (a
// person reads what the UI shows; password hashes, storage tokens and connection-string passwords
// stay out). The UI calls it from the browser: CORS for the UI's origins, and a bearer token when
// it listens beyond loopback.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { AesGcmCodec } from './temporal/payload-codec';
import { REDACTED, redactJson, redactText } from './compute/redact';

export interface CodecServerOptions {
  /** COMPUTE_CTL_PAYLOAD_KEY (32 bytes, base64). */
  key: string;
  /** Origins allowed to call from a browser (the Temporal UI's). */
  origins: string[];
  /** A bearer token every request must carry; none on loopback only (checked by the CLI). */
  token?: string;
  logLevel?: string;
}

/** Histories hold payloads up to Temporal's 2 MB blob limit; a page of them is decoded at once. */
const BODY_LIMIT = 16 * 1024 * 1024;

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const PayloadsSchema = {
  type: 'object',
  required: ['payloads'],
  properties: {
    payloads: {
      type: 'array',
      items: {
        type: 'object',
        properties: { metadata: { type: 'object', additionalProperties: { type: 'string' } }, data: { type: 'string' } },
      },
    },
  },
} as const;

// The protocol's JSON is protobuf's JSON mapping of Payload (bytes as base64).
const ProtoPayload = temporal.api.common.v1.Payload;
const fromJson = (p: JsonPayload): Payload => ProtoPayload.fromObject(p) as Payload;
// Protobuf's JSON mapping without defaults: an empty `externalPayloads: []` written out makes the
// Temporal CLI refuse the answer (`temporal workflow show --codec-endpoint`); the UI ignores it.
const toJson = (p: Payload): JsonPayload => ProtoPayload.toObject(ProtoPayload.create(p), { bytes: String }) as JsonPayload;

const plain = (value: unknown): Payload => ({
  metadata: { encoding: Buffer.from('json/plain') },
  data: Buffer.from(JSON.stringify(value)),
});

/** A decoded payload as a person may see it. */
export function forPeople(p: Payload): Payload {
  const encoding = Buffer.from(p.metadata?.encoding ?? []).toString();
  if (encoding !== 'json/plain') return encoding === 'binary/null' ? p : plain(`${REDACTED} (${encoding || 'unknown'} payload)`);
  const text = Buffer.from(p.data ?? []).toString('utf8');
  try {
    return plain(redactJson(text));
  } catch {
    return plain(redactText(text));
  }
}

function sameToken(given: string, wanted: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(wanted)];
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function buildCodecServer(o: CodecServerOptions): Promise<FastifyInstance> {
  const codec = new AesGcmCodec(Buffer.from(o.key, 'base64'));
  const app = Fastify({ logger: { level: o.logLevel ?? 'warn' }, bodyLimit: BODY_LIMIT });

  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (!o.origins.includes(origin)) return reply.code(403).send({ error: `origin ${origin} is not allowed (--ui-origin)` });
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      reply.header('access-control-allow-credentials', 'true');
    }
    if (request.method === 'OPTIONS') {
      return reply
        .code(204)
        .header('access-control-allow-methods', 'POST, OPTIONS')
        .header('access-control-allow-headers', 'Content-Type, X-Namespace, Authorization')
        .header('access-control-max-age', '600')
        .send();
    }
    if (o.token !== undefined) {
      const auth = request.headers.authorization ?? '';
      const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!sameToken(given, o.token)) return reply.code(401).send({ error: 'missing or wrong bearer token' });
    }
  });
  app.options('/*', async () => undefined);

  app.setErrorHandler((error: { statusCode?: number; message: string; code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `request body is larger than ${BODY_LIMIT} bytes` });
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 400;
    return reply.code(status).send({ error: error.message });
  });

  app.post<{ Body: { payloads: JsonPayload[] } }>('/decode', { schema: { body: PayloadsSchema } }, async (request, reply) => {
    try {
      const decoded = await codec.decode(request.body.payloads.map(fromJson));
      return { payloads: decoded.map((p) => toJson(forPeople(p))) };
    } catch (err) {
      return reply.code(400).send({ error: `cannot decode: ${(err as Error).message}` });
    }
  });

  app.post<{ Body: { payloads: JsonPayload[] } }>('/encode', { schema: { body: PayloadsSchema } }, async (request) => {
    return { payloads: (await codec.encode(request.body.payloads.map(fromJson))).map(toJson) };
  });

  return app;
}
