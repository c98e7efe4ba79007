/**
 * Signed jobs. Coordinators sign every job they put in a region's queue (a run of a check, a canary)
 * with one Ed25519 key shared by all coordinators; agents verify with its public key and run nothing
 * else, and ingest accepts a result only when it carries the signature of the slot it answers. So a
 * stolen agent credential cannot make another region run anything, cannot make a run up, and cannot
 * make a result count for a slot that was never issued.
 *
 * What is signed is a small text, one field per line, so that both sides build exactly the same bytes
 * without a JSON canonicalisation step: the region (the queue it goes to), the check, its version, the
 * trigger, when it was due, until when it may start, and the SHA-256 of the definition it carries.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.ts';
import { CodedError } from '../lib/errors.ts';
import type { CheckDefinition } from './definitions.ts';

/** What makes one run: the signed slot a coordinator issued. */
export interface RunSlot {
  region: string;
  checkId: string;
  checkVersion: number;
  trigger: string;
  /** When the run was due (epoch ms). */
  scheduledAt: number;
  /** After this (epoch ms, Redis time), the run must not start any more: it is skipped, not run late. */
  expiresAt: number;
  /** {@link definitionDigest} of the definition the job carries. */
  definitionDigest: string;
}

/** What makes one canary. */
export interface CanarySlot {
  region: string;
  slot: number;
  intervalMs: number;
}

/** SHA-256 (hex) of a definition's canonical JSON: the job's definition is bound to its signature by it. */
export function definitionDigest(definition: CheckDefinition): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex');
}

const runPayload = (s: RunSlot): Buffer => Buffer.from(
  ['lookout-run/1', s.region, s.checkId, String(s.checkVersion), s.trigger, String(s.scheduledAt), String(s.expiresAt), s.definitionDigest].join('\n'),
);
const canaryPayload = (c: CanarySlot): Buffer => Buffer.from(['lookout-canary/1', c.region, String(c.slot), String(c.intervalMs)].join('\n'));

export type SigningKeyErrorCode = 'INVALID_SIGNING_KEY' | 'INVALID_PUBLIC_KEY';
export class SigningKeyError extends CodedError<SigningKeyErrorCode> {}

/** Signs jobs: held by coordinators only. */
export class JobSigner {
  readonly #key: KeyObject;
  /** The matching public key as agents take it ({@link publicKeyText}). */
  readonly publicKey: string;
  /** The private key as given (PEM), for writing it where coordinators read it. */
  readonly pem: string;

  constructor(privateKeyPem: string) {
    this.pem = privateKeyPem;
    let key: KeyObject;
    try {
      key = createPrivateKey(privateKeyPem);
    } catch (error) {
      throw new SigningKeyError('INVALID_SIGNING_KEY', `the job signing key is not a PEM private key: ${(error as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new SigningKeyError('INVALID_SIGNING_KEY', `the job signing key must be Ed25519, got ${key.asymmetricKeyType ?? 'unknown'}`);
    }
    this.#key = key;
    this.publicKey = publicKeyText(createPublicKey(key));
  }

  signRun(slot: RunSlot): string {
    return sign(null, runPayload(slot), this.#key).toString('base64');
  }

  signCanary(canary: CanarySlot): string {
    return sign(null, canaryPayload(canary), this.#key).toString('base64');
  }
}

/** Verifies jobs and slots: agents (their region's jobs) and ingest (the slots results answer). */
export class JobVerifier {
  readonly #key: KeyObject;

  /** `publicKey`: as {@link publicKeyText} writes it (base64 of the DER SubjectPublicKeyInfo), or PEM. */
  constructor(publicKey: string) {
    this.#key = parsePublicKey(publicKey);
  }

  verifyRun(slot: RunSlot, signature: string): boolean {
    return verifyBase64(runPayload(slot), this.#key, signature);
  }

  verifyCanary(canary: CanarySlot, signature: string): boolean {
    return verifyBase64(canaryPayload(canary), this.#key, signature);
  }
}

function verifyBase64(payload: Buffer, key: KeyObject, signature: string): boolean {
  // An Ed25519 signature is 64 bytes: 88 base64 characters.
  if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(signature)) return false;
  try {
    return verify(null, payload, key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** A new signing key, as PEM (PKCS#8). */
export function generateSigningKey(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A public key on one line: base64 of its DER SubjectPublicKeyInfo (fits in an environment variable). */
export function publicKeyText(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** Reads a public key written by {@link publicKeyText}, or PEM; throws `INVALID_PUBLIC_KEY`. */
export function parsePublicKey(text: string): KeyObject {
  let key: KeyObject;
  try {
    key = text.includes('-----BEGIN')
      ? createPublicKey(text)
      : createPublicKey({ key: Buffer.from(text.trim(), 'base64'), format: 'der', type: 'spki' });
  } catch (error) {
    throw new SigningKeyError('INVALID_PUBLIC_KEY', `the job verification key is not an Ed25519 public key (base64 or PEM): ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError('INVALID_PUBLIC_KEY', `the job verification key must be Ed25519, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}
