import path from 'node:path';
import { type DecryptionKeys, readIdentityFile } from '../pipeline/encryption.js';
import type { DbguardConfig } from '../config/config-file.js';
import type { CliContext } from './context.js';
import { type RemoteSettings, resolveRemote } from '../config/remote.js';

/** `--identity <file>`, else DBGUARD_AGE_IDENTITY_FILE; plus DBGUARD_PASSPHRASE. */
export async function decryptionKeys(ctx: CliContext, identityFile: string | undefined): Promise<DecryptionKeys | undefined> {
  const file = identityFile ?? ctx.env.DBGUARD_AGE_IDENTITY_FILE;
  const identities = file ? await readIdentityFile(path.resolve(ctx.cwd, file)) : [];
  const passphrase = ctx.env.DBGUARD_PASSPHRASE || undefined;
  return identities.length > 0 || passphrase ? { identities, passphrase } : undefined;
}

/** The bucket from the config file and DBGUARD_REMOTE / DBGUARD_S3_* (the environment wins); undefined when none. */
export function remoteSettings(ctx: CliContext, config: DbguardConfig): RemoteSettings | undefined {
  return resolveRemote(config.remote, ctx.env);
}
