import { Cron } from 'croner';
import { UsageError } from '../errors.js';

/** A cron schedule of 5 fields (minutes) or 6 (seconds first), in an IANA time zone (default: the system's). */
export interface Schedule {
  cron: string;
  timeZone?: string | undefined;
}

/** A paused croner job: only asked for run times. Throws a UsageError naming `where` for a bad pattern or zone. */
export function cronOf(schedule: Schedule, where: string): Cron {
  try {
    const cron = new Cron(schedule.cron, { timezone: schedule.timeZone, paused: true, mode: '5-or-6-parts' });
    cron.nextRun(); // an unknown time zone only fails when a date is computed
    return cron;
  } catch (error) {
    throw new UsageError(
      `${where}: invalid schedule "${schedule.cron}"${schedule.timeZone ? ` in time zone ${schedule.timeZone}` : ''}: ${(error as Error).message}`,
      'A schedule is a cron pattern of 5 fields (minute hour day month weekday) or 6 (seconds first), e.g. "0 * * * *"; a time zone is an IANA name such as Europe/Berlin.',
    );
  }
}

/** The next run after `after` (default now), or null when the pattern never fires again. */
export function nextRun(schedule: Schedule, after: Date = new Date()): Date | null {
  return cronOf(schedule, 'schedule').nextRun(after);
}

/** The time between two consecutive runs (the next two after `after`). */
export function scheduleInterval(schedule: Schedule, after: Date = new Date()): number | null {
  const [first, second] = cronOf(schedule, 'schedule').nextRuns(2, after);
  return first && second ? second.getTime() - first.getTime() : null;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `90s`, `30m`, `26h`, `7d`, `2w` (or a number of milliseconds) in milliseconds. */
export function parseDuration(value: string | number, where: string): number {
  if (typeof value === 'number') return value;
  const match = DURATION.exec(value.trim());
  if (!match) throw new UsageError(`${where}: "${value}" is not a duration.`, 'Write a number and a unit: 90s, 30m, 26h, 7d or 2w.');
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
