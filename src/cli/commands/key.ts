import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { newIdentity } from '../../pipeline/encryption.js';
import { type CliContext, print, printJson } from '../context.js';

export function registerKey(program: Command, ctx: CliContext): void {
  const key = program.command('key').description('manage age keys for encrypted backups');
  key
    .command('generate')
    .description('write a new age identity (private key) file, mode 0600, and print its public key')
    .option('--out <file>', 'where to write the identity', 'dbguard-age-key.txt')
    .option('--json', 'print {"file", "recipient"} as JSON')
    .action(async (options: { out: string; json?: boolean }) => {
      const file = path.resolve(ctx.cwd, options.out);
      const { recipient, fileText } = await newIdentity(new Date());
      try {
        await fs.writeFile(file, fileText, { flag: 'wx', mode: 0o600 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UsageError(`${file} already exists; refusing to overwrite a key.`, 'Choose another --out file.');
        }
        throw error;
      }
      if (options.json) {
        printJson(ctx, { file, recipient });
        return;
      }
      print(
        ctx,
        [
          `Identity written to ${file} (mode 0600).`,
          `Public key (recipient): ${recipient}`,
          '',
          'Encrypt backups to it: add it to dbguard.config.json under encryption.recipients,',
          'or set DBGUARD_AGE_RECIPIENTS. Restore with --identity <file> or DBGUARD_AGE_IDENTITY_FILE.',
          '',
          'WARNING: without this file the backups encrypted to it cannot be restored, by dbguard or anyone.',
          'Keep a copy off this machine (a password manager, a safe), and never commit it.',
        ].join('\n'),
      );
    });
}
