import { UsageError } from '../errors.js';
import type { AuditEntry } from '../guard/audit.js';

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const WITH_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * `--at`: an ISO 8601 moment with an offset (2026-03-01T14:03:00Z), or a local time (2026-03-01 14:03) read in
 * `timeZone` (an IANA name; the system's when undefined).
 */
export function parseMoment(value: string, timeZone?: string): Date {
  const text = value.trim();
  if (WITH_OFFSET.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  const match = LOCAL.exec(text);
  if (!match) {
    throw new UsageError(`"${value}" is not a moment.`, 'Write an ISO 8601 time (2026-03-01T14:03:00Z, 2026-03-01T14:03:00+01:00), a local time (2026-03-01 14:03), or before:<backup id>, or before:guard.');
  }
  const [, y, mo, d, h, mi, s = '0', frac = '0'] = match;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0')));
  // The zone's offset at that wall time (twice: a first guess can sit on the other side of a DST change).
  let utc = wall - offsetMs(wall, timeZone);
  utc = wall - offsetMs(utc, timeZone);
  return new Date(utc);
}

function offsetMs(utc: number, timeZone: string | undefined): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(utc))
      .map((p) => [p.type, p.value]),
  );
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return asUtc - Math.floor(utc / 1000) * 1000;
}

/**
 * `--at before:guard[:<backup id>]`: one second before a destructive command the guard let through (its audit log
 * entry: recorded after the backup it took, right before the command ran). Without an id, the newest one on
 * `database` (its display form, as the audit log records it).
 */
export function momentBeforeApproval(entries: AuditEntry[], ref: string, database: string): { at: Date; entry: AuditEntry } {
  const id = ref.startsWith('guard:') ? ref.slice('guard:'.length) : undefined;
  const ours = entries.filter((e) => e.database === database);
  const entry = id ? entries.find((e) => e.backupId === id) : ours.at(-1);
  if (!entry) {
    const recent = ours.slice(-5).reverse().map((e) => `  ${e.time}  ${e.command}  (before:guard:${e.backupId})`);
    throw new UsageError(
      id ? `The guard's audit log has no approved command whose backup is ${id}.` : `The guard's audit log has no approved command on ${database}.`,
      recent.length > 0 ? `Approved commands on ${database}, newest first:\n${recent.join('\n')}` : 'Give a moment instead (--at 2026-03-01T14:03:00Z), or before:<backup id>.',
    );
  }
  return { at: new Date(Date.parse(entry.time) - 1000), entry };
}
