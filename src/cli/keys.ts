import path from 'node:path';
import type { DbguardConfig } from '../config/config-file.js';
import { type DecryptionKeys, type EncryptionKeys, readIdentityFile } from '../pipeline/encryption.js';
import { parseCompression } from '../pipeline/compression.js';
import type { CliContext } from './context.js';

/** Recipients from the config or DBGUARD_AGE_RECIPIENTS, or DBGUARD_PASSPHRASE; undefined when neither. */
export function encryptionKeys(ctx: CliContext, config: DbguardConfig): EncryptionKeys | undefined {
  const fromEnv = (ctx.env.DBGUARD_AGE_RECIPIENTS ?? '').split(/[\s,]+/).filter(Boolean);
  const recipients = fromEnv.length > 0 ? fromEnv : (config.encryption?.recipients ?? []);
  const passphrase = ctx.env.DBGUARD_PASSPHRASE || undefined;
  if (recipients.length > 0) return { recipients };
  if (passphrase) return { recipients: [], passphrase };
  return undefined;
}

/** `--identity <file>`, else DBGUARD_AGE_IDENTITY_FILE; plus DBGUARD_PASSPHRASE. */
export async function decryptionKeys(ctx: CliContext, identityFile: string | undefined): Promise<DecryptionKeys | undefined> {
  const file = identityFile ?? ctx.env.DBGUARD_AGE_IDENTITY_FILE;
  const identities = file ? await readIdentityFile(path.resolve(ctx.cwd, file)) : [];
  const passphrase = ctx.env.DBGUARD_PASSPHRASE || undefined;
  return identities.length > 0 || passphrase ? { identities, passphrase } : undefined;
}

/** The configured compression, encryption, retention and size warning, as `backup()` options. */
export function configuredBackupOptions(ctx: CliContext, config: DbguardConfig) {
  return {
    compression: config.compression === undefined ? undefined : parseCompression(config.compression),
    encryption: encryptionKeys(ctx, config),
    retention: config.prune?.afterBackup === false ? (false as const) : { policies: config.retention, timeZone: config.prune?.timeZone },
    sizeWarningBytes: config.sizeWarningMB === undefined ? undefined : config.sizeWarningMB * 1024 * 1024,
  };
}
