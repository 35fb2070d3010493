import { promises as fs } from 'node:fs';
import path from 'node:path';

export const AUDIT_LOG = 'guard-audit.log';

/** One approval of a destructive command, as recorded in `<backups dir>/guard-audit.log`. */
export interface AuditEntry {
  time: string;
  command: string;
  reason: string;
  /** `terminal`: the database name was typed; `flag`: `--approve "<reason>"` without a terminal. */
  approvedBy: 'terminal' | 'flag';
  backupId: string;
  database: string;
  rules: string[];
  environment?: string | undefined;
}

/** Appends one JSON line to the audit log (mode 0600); returns the log's path. */
export async function appendAudit(dir: string, entry: AuditEntry): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, AUDIT_LOG);
  const handle = await fs.open(file, 'a', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.appendFile(`${JSON.stringify(entry)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return file;
}

export async function readAudit(dir: string): Promise<AuditEntry[]> {
  const text = await fs.readFile(path.join(dir, AUDIT_LOG), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AuditEntry);
}
