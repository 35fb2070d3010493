import type { NotifyEvent } from '../config/notify-config.js';

/** What happened to one database, as every channel receives it. */
export interface Notification {
  event: NotifyEvent | 'test';
  database: string;
  /** Safe to print: no credentials. */
  display: string;
  /** The error line of a failure. */
  error?: string | undefined;
  /** The backup a success or verification is about. */
  backupId?: string | undefined;
  newestGood: { id: string; createdAt: string; age: string } | null;
  /** The command that shows more. */
  command: string;
  at: string;
}

const TITLES: Record<Notification['event'], string> = {
  failure: 'backup FAILED',
  recovery: 'backups recovered',
  stale: 'backups are STALE',
  'verify-failed': 'verification FAILED',
  success: 'backup succeeded',
  'pitr-lag': 'point-in-time recovery is LAGGING',
  test: 'test notification',
};

/** `dbguard: app: backup FAILED` */
export function title(n: Notification): string {
  return `dbguard: ${n.database}: ${TITLES[n.event]}`;
}

/** A few plain lines: what happened, the error, the newest good backup and its age, the command to look further. */
export function body(n: Notification): string {
  const lines = [`${TITLES[n.event]} for ${n.database} (${n.display}) at ${n.at}`];
  if (n.error) lines.push(`error: ${n.error}`);
  if (n.backupId) lines.push(`backup: ${n.backupId}`);
  lines.push(n.newestGood ? `newest good backup: ${n.newestGood.id}, ${n.newestGood.age} old` : 'newest good backup: none');
  lines.push(`more: ${n.command}`);
  return lines.join('\n');
}
