import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';

export const configSchema = z
  .object({
    /** Backups folder, relative to the project. */
    backupDir: z.string().min(1).optional(),
    /** Tables that must exist after every restore. */
    requiredTables: z.array(z.string().min(1)).optional(),
  })
  .strict();

export type DbguardConfig = z.infer<typeof configSchema>;

export const CONFIG_FILE = 'dbguard.config.json';

/** `dbguard.config.json`, else the `dbguard` key of package.json, else defaults; validated. */
export function loadConfig(cwd: string): { config: DbguardConfig; source: string | null } {
  const file = path.join(cwd, CONFIG_FILE);
  if (existsSync(file)) return { config: validate(readJson(file), CONFIG_FILE), source: file };
  const pkgFile = path.join(cwd, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = readJson(pkgFile) as { dbguard?: unknown };
    if (pkg && typeof pkg === 'object' && 'dbguard' in pkg) return { config: validate(pkg.dbguard, 'package.json "dbguard"'), source: pkgFile };
  }
  return { config: {}, source: null };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function validate(value: unknown, where: string): DbguardConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  throw new UsageError(`Invalid configuration in ${where}: ${details}`, `Allowed keys: ${Object.keys(configSchema.shape).join(', ')}.`);
}
