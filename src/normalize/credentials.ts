import { isSecretName } from './secrets-in-text.ts';

/**
 * What looks like a credential in Kubernetes objects that are not Secrets: the value of a container
 * environment variable, or of a ConfigMap key. The normalizer removes such values before an event leaves it,
 * and records where (`klaxon.redacted`), so rules can still say "a ConfigMap holds a credential".
 *
 * Every expression here runs on payload text: each quantifier is bounded or anchored on a literal, so the
 * cost stays linear in the value's length.
 */

/** `password = x`, `aws_secret_access_key: x`, `"apiKey": "x"` — a value, not a placeholder (`${X}`, `<x>`, `{{ }}`). */
const ASSIGNMENT =
  /(?:passw(?:or)?d|passwd|passphrase|secret[_-]?access[_-]?key|access[_-]?key[_-]?id|api[_-]?key|client[_-]?secret|auth[_-]?token|private[_-]?key)["']?[ \t]{0,8}[:=][ \t]{0,8}["']?[^\s"'$<{%*]/i;

/** PEM private keys and AWS access key ids. */
const KEY_MATERIAL = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b/;

/** A URL with a password in it: `postgres://app:s3cret@db:5432/app`. */
const URL_PASSWORD = /[a-z][a-z0-9+.-]{0,31}:\/\/[^/\s:@]{1,256}:[^/\s@]{1,256}@/i;

export function looksLikeCredential(value: string): boolean {
  return ASSIGNMENT.test(value) || KEY_MATERIAL.test(value) || URL_PASSWORD.test(value);
}

/** Whether `value`, stored under `name`, is to be removed. */
export function isCredentialValue(name: string, value: unknown): boolean {
  if (typeof value !== 'string' || value === '') return false;
  return isSecretName(name) || looksLikeCredential(value);
}
