import { promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DbguardError, RefusedError, UsageError } from '../errors.js';

/** age-encryption (and its post-quantum dependencies) loads only when something is encrypted or decrypted. */
const loadAge = () => import('age-encryption');

/** How to encrypt: public recipients (`age1...`) and/or a passphrase (scrypt). Never stored. */
export interface EncryptionKeys {
  recipients: string[];
  passphrase?: string | undefined;
}

/** How to decrypt: identities (`AGE-SECRET-KEY-1...`) and/or a passphrase. */
export interface DecryptionKeys {
  identities: string[];
  passphrase?: string | undefined;
}

export function hasEncryptionKeys(keys: EncryptionKeys | undefined): keys is EncryptionKeys {
  return Boolean(keys && (keys.recipients.length > 0 || keys.passphrase));
}

export function validateRecipients(recipients: string[]): string[] {
  for (const recipient of recipients) {
    if (!/^age1[02-9ac-hj-np-z]{58,}$/.test(recipient)) {
      throw new UsageError(`"${recipient}" is not an age public key.`, 'Recipients look like age1... (see `dbguard key generate`).');
    }
  }
  return recipients;
}

/** Encrypts a stream to a standard age file (the `age` tool decrypts it). */
export async function encryptStream(input: Readable, keys: EncryptionKeys): Promise<Readable> {
  const { Encrypter } = await loadAge();
  const encrypter = new Encrypter();
  if (keys.recipients.length > 0) {
    if (keys.passphrase) throw new UsageError('Use either age recipients or a passphrase, not both (age files take one kind).');
    for (const recipient of keys.recipients) encrypter.addRecipient(recipient);
  } else if (keys.passphrase) {
    encrypter.setPassphrase(keys.passphrase);
  }
  const encrypted = await encrypter.encrypt(Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>);
  return Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>);
}

/**
 * Decrypts an age stream. The header is checked before this resolves: a missing or wrong key fails here,
 * before any byte reaches a database. `recipients` (from the manifest) only make the error precise.
 */
export async function decryptStream(input: Readable, keys: DecryptionKeys | undefined, recipients: string[]): Promise<Readable> {
  const to = recipients.length > 0 ? `it was encrypted to ${recipients.join(', ')}` : 'it was encrypted with a passphrase';
  if (!keys || (keys.identities.length === 0 && !keys.passphrase)) {
    input.destroy();
    throw new RefusedError(
      `This backup is encrypted and no key was given (${to}).`,
      'Pass --identity <file> (or set DBGUARD_AGE_IDENTITY_FILE), or DBGUARD_PASSPHRASE for passphrase backups.',
    );
  }
  const { Decrypter } = await loadAge();
  const decrypter = new Decrypter();
  for (const identity of keys.identities) decrypter.addIdentity(identity);
  if (keys.passphrase) decrypter.addPassphrase(keys.passphrase);
  try {
    const plain = await decrypter.decrypt(Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>);
    return Readable.fromWeb(plain as unknown as WebReadableStream<Uint8Array>);
  } catch (error) {
    input.destroy();
    throw new RefusedError(`Cannot decrypt this backup with the key given (${to}): ${(error as Error).message}.`, 'Use the identity file of one of those recipients.');
  }
}

/** Identities from an age identity file: one `AGE-SECRET-KEY-1...` per line, `#` comments. */
export async function readIdentityFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read the identity file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
  const identities = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (identities.length === 0 || identities.some((line) => !line.startsWith('AGE-SECRET-KEY-'))) {
    throw new UsageError(`${file} is not an age identity file (expected lines starting with AGE-SECRET-KEY-).`);
  }
  return identities;
}

/** A new X25519 identity in age's file format, and its public key. */
export async function newIdentity(now: Date): Promise<{ identity: string; recipient: string; fileText: string }> {
  const { generateIdentity, identityToRecipient } = await loadAge();
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const fileText = `# created: ${now.toISOString()}\n# public key: ${recipient}\n${identity}\n`;
  return { identity, recipient, fileText };
}
