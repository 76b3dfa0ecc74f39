// What is signed offline, and how it is checked: a terminal signs each batch it uploads with its
// own Ed25519 key (so a batch relayed by a venue gateway, or stored and sent later, stays the
// terminal's word), and Tapline signs the base of a card medium's offline-spend counter. Each
// signature covers a context string and a NUL first, so a signature made for one purpose can
// never be presented for another. Deterministic, no I/O: node:crypto's Ed25519 only.

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

export const batch_signature_context = 'tapline.offline.batch.v1';
export const counter_signature_context = 'tapline.offline.counter.v1';

/** The DER prefix of an Ed25519 public key in SubjectPublicKeyInfo form (RFC 8410), before its 32 bytes. */
const ed25519_spki_prefix = Buffer.from('302a300506032b6570032100', 'hex');
export const ed25519_public_key_bytes = 32;
export const ed25519_signature_bytes = 64;

/** A terminal's key as sent (32 raw bytes or SPKI DER) in its stored form (raw, base64); undefined when it is neither. */
export function normalizePublicKey(key: Uint8Array): string | undefined {
  const bytes = Buffer.from(key);
  if (bytes.length === ed25519_public_key_bytes) return bytes.toString('base64');
  if (
    bytes.length === ed25519_spki_prefix.length + ed25519_public_key_bytes &&
    bytes.subarray(0, ed25519_spki_prefix.length).equals(ed25519_spki_prefix)
  )
    return bytes.subarray(ed25519_spki_prefix.length).toString('base64');
  return undefined;
}

/** The key object of a stored (raw, base64) Ed25519 public key. */
export function publicKeyOf(raw: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([ed25519_spki_prefix, Buffer.from(raw, 'base64')]), format: 'der', type: 'spki' });
}

/** The SPKI DER of a public key object (what the profile hands terminals). */
export function spkiOf(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}

function signed(context: string, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(context, 'utf8'), Buffer.from([0]), payload]);
}

/** The bytes a terminal signs for a batch. */
export function batchSigningBytes(batch: Uint8Array): Buffer {
  return signed(batch_signature_context, batch);
}

/** Terminal keys whose key objects are kept (one per uploading terminal; past it, the map starts over). */
const terminal_keys_kept_max = 4_096;
const terminal_keys = new Map<string, KeyObject>();

/** The key object of a terminal's stored key, built once per key rather than once per uploaded batch. */
function terminalKeyOf(raw: string): KeyObject {
  const known = terminal_keys.get(raw);
  if (known !== undefined) return known;
  const key = publicKeyOf(raw);
  if (terminal_keys.size >= terminal_keys_kept_max) terminal_keys.clear();
  terminal_keys.set(raw, key);
  return key;
}

/** True when `signature` is the terminal's (stored raw key, base64) over the batch's bytes. */
export function batchSigned(publicKey: string, batch: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ed25519_signature_bytes) return false;
  try {
    return verify(null, batchSigningBytes(batch), terminalKeyOf(publicKey), signature);
  } catch {
    return false;
  }
}

/** The bytes Tapline signs for a card counter's base. */
export function counterSigningBytes(cardId: string, mergedMinor: number, issuedAtMs: number): Buffer {
  return signed(counter_signature_context, Buffer.from(`${cardId}\0${mergedMinor}\0${issuedAtMs}`, 'utf8'));
}

/** True when `signature` is Tapline's (its counter key) over the counter base. */
export function counterSigned(key: KeyObject, cardId: string, mergedMinor: number, issuedAtMs: number, signature: Uint8Array): boolean {
  if (signature.length !== ed25519_signature_bytes) return false;
  try {
    return verify(null, counterSigningBytes(cardId, mergedMinor, issuedAtMs), key, signature);
  } catch {
    return false;
  }
}

/** The digest a batch record keeps of the bytes uploaded: the same digest means the same batch. */
export function batchDigest(batch: Uint8Array): string {
  return createHash('sha256').update(batch).digest('hex');
}
