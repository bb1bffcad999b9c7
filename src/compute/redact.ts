// Secrets out of values shown to people (the codec server's decoded payloads): password hashes,
// storage tokens, JWTs and the passwords of connection strings are replaced, everything else kept.
export const REDACTED = '<redacted>';

/** Keys whose string value is a secret whatever it looks like. */
const SECRET_KEYS = /^(encrypted_password|storage_auth_token|endpoint_storage_token|password|passwd|token|access_token|secret|private_key|payload_key)$/i;

const SECRET_TEXTS: [RegExp, string][] = [
  // SCRAM verifiers and md5 hashes (pg_authid's forms)
  [/SCRAM-SHA-256\$[^\s"',;]+/g, REDACTED],
  [/\bmd5[0-9a-f]{32}\b/g, REDACTED],
  // JWTs (header.payload.signature, base64url)
  [/\beyJ[\w-]*\.[\w-]+\.[\w-]+/g, REDACTED],
  // URL connection strings: scheme://user:password@host
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@"']*:)[^\s@"'/]*(@)/gi, `$1${REDACTED}$2`],
  // keyword connection strings and settings: password=secret, password='secret'
  [/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+)/gi, `$1${REDACTED}`],
];

export function redactText(text: string): string {
  return SECRET_TEXTS.reduce((t, [re, by]) => t.replace(re, by), text);
}

/** A copy of JSON text's value with the secrets replaced (JSON.parse's reviver visits every member). */
export function redactJson(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => {
    if (typeof value !== 'string') return value;
    return SECRET_KEYS.test(key) ? REDACTED : redactText(value);
  });
}
