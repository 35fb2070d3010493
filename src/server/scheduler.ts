import { engineTraits } from '../engines/index.js';
import { Cron } from 'croner';
import type { NamedDatabase } from '../config/databases.js';
import type { NotifyEvent } from '../config/notify-config.js';
import { scheduleInterval } from '../config/schedule.js';
import { backup } from '../core/backup.js';
import { type DatabaseStatus, backupStatus, formatAge, newestBackupOf } from '../core/status.js';
import { totalRows } from '../core/table-counts.js';
import { verifyBackup } from '../core/verify.js';
import type { Notifier, SendResult } from '../notify/index.js';
import type { DecryptionKeys } from '../pipeline/encryption.js';
import type { Logger } from './log.js';

export type JobKind = 'backup' | 'verify';

export interface SchedulerOptions {
  dir: string;
  log: Logger;
  notifier: Notifier;
  /** For verifying the content of encrypted backups (the checksum is checked without it). */
  decryption?: DecryptionKeys | undefined;
  /** Called when a backup attempt fails (the failures counter). */
  onFailure?: ((database: string) => void) | undefined;
  now?: () => Date;
}

interface Running {
  kind: JobKind;
  controller: AbortController;
  done: Promise<void>;
}

/** What has been told already: one alert per failure or staleness episode. */
interface Episode {
  failing: boolean;
  stale: boolean;
}

const STALE_CHECK_MS = 60_000;
/** setTimeout's limit; a later staleness is caught by the check every minute. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs each database's backups and verifications on their schedules, one job per database at a time, and tells the
 * notifier about failures, recoveries and staleness.
 */
export class Scheduler {
  private databases: NamedDatabase[] = [];
  private crons = new Map<string, { backup?: Cron; verify?: Cron }>();
  private running = new Map<string, Running>();
  private episodes = new Map<string, Episode>();
  private staleTimers = new Map<string, NodeJS.Timeout>();
  private staleInterval: NodeJS.Timeout | undefined;
  private pending = new Set<Promise<unknown>>();
  private stopping = false;
  private readonly startedAt: Date;
  private readonly now: () => Date;

  constructor(private options: SchedulerOptions) {
    this.now = options.now ?? (() => new Date());
    this.startedAt = this.now();
  }

  get active(): boolean {
    return !this.stopping;
  }

  /** Schedules `databases`, replacing the previous ones (running jobs finish); new databases may catch up. */
  async configure(databases: NamedDatabase[], notifier: Notifier, dir: string): Promise<void> {
    const known = new Set(this.databases.map((d) => d.name));
    this.clearSchedules();
    this.databases = databases;
    this.options = { ...this.options, notifier, dir };
    const statuses = await this.statuses();
    for (const database of databases) {
      const status = statuses.find((s) => s.name === database.name)!;
      if (!this.episodes.has(database.name)) this.episodes.set(database.name, { failing: status.lastAttempt?.ok === false, stale: false });
      this.crons.set(database.name, {
        backup: database.schedule ? this.cron(database, 'backup', database.schedule) : undefined,
        verify: database.verify ? this.cron(database, 'verify', database.verify) : undefined,
      });
      this.armStaleTimer(database, status);
      if (!known.has(database.name) && database.schedule && needsCatchUp(database, status, this.now())) {
        this.options.log('info', 'backup.catch-up', {
          database: database.name,
          newest: status.newestGood?.createdAt ?? null,
          reason: status.newestGood ? `the newest good backup is older than the schedule's interval` : 'no good backup',
        });
        void this.run(database, 'backup', 'catch-up');
      }
    }
    this.staleInterval ??= setInterval(() => void this.checkAllStale(), STALE_CHECK_MS);
  }

  /** The next run of each scheduled job. */
  nextRuns(): Array<{ database: string; job: JobKind; at: Date }> {
    const runs: Array<{ database: string; job: JobKind; at: Date }> = [];
    for (const [database, crons] of this.crons) {
      for (const job of ['backup', 'verify'] as const) {
        const at = crons[job]?.nextRun();
        if (at) runs.push({ database, job, at });
      }
    }
    return runs;
  }

  /** Accepts no new job, cancels running ones (they clean up after themselves) and waits for them. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    this.clearSchedules();
    if (this.staleInterval) clearInterval(this.staleInterval);
    for (const [database, job] of this.running) {
      this.options.log('info', `${job.kind}.cancelling`, { database });
      job.controller.abort();
    }
    const all = Promise.allSettled([...[...this.running.values()].map((r) => r.done), ...this.pending]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  private cron(database: NamedDatabase, kind: JobKind, schedule: { cron: string; timeZone?: string | undefined }): Cron {
    return new Cron(schedule.cron, { timezone: schedule.timeZone, mode: '5-or-6-parts' }, () => void this.run(database, kind, 'schedule'));
  }

  private clearSchedules(): void {
    for (const crons of this.crons.values()) {
      crons.backup?.stop();
      crons.verify?.stop();
    }
    this.crons.clear();
    for (const timer of this.staleTimers.values()) clearTimeout(timer);
    this.staleTimers.clear();
  }

  /** Runs one job unless another job of the same database is still running (then it is skipped and logged). */
  run(database: NamedDatabase, kind: JobKind, reason: 'schedule' | 'catch-up' | 'manual'): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const busy = this.running.get(database.name);
    if (busy) {
      this.options.log('warn', `${kind}.skipped`, { database: database.name, reason: `a ${busy.kind} of this database is still running` });
      return Promise.resolve();
    }
    const controller = new AbortController();
    const done = (async () => {
      if (database.jitterMs > 0 && reason === 'schedule') await delay(Math.random() * database.jitterMs, controller.signal);
      if (controller.signal.aborted) return;
      if (kind === 'backup') await this.backup(database, controller.signal);
      else await this.verify(database, controller.signal);
    })()
      .catch((error) => this.options.log('error', `${kind}.crashed`, { database: database.name, error: (error as Error).message }))
      .finally(() => this.running.delete(database.name));
    this.running.set(database.name, { kind, controller, done });
    return done;
  }

  private async backup(database: NamedDatabase, signal: AbortSignal): Promise<void> {
    const { log, dir } = this.options;
    const name = database.name;
    log('info', 'backup.start', { database: name, type: database.type });
    this.track(this.options.notifier.ping(name, 'start'), 'ping-start', name);
    const { compression, encryption, retention, sizeWarningBytes } = database.backup;
    try {
      const result = await backup({
        target: database.target,
        dir,
        type: database.type,
        description: 'scheduled by dbguard serve',
        compression,
        encryption,
        retention,
        sizeWarningBytes,
        remote: database.backup.remote,
        signal,
        onWarning: (message) => log('warn', 'backup.warning', { database: name, message }),
      });
      const m = result.manifest;
      log('info', 'backup.done', { database: name, id: m.id, size: m.size, durationMs: m.durationMs, rows: totalRows(m.tables), pruned: result.pruned });
      for (const warning of result.warnings) log('warn', 'backup.warning', { database: name, message: warning });
      this.track(this.options.notifier.ping(name, 'success'), 'ping-success', name);
      const episode = this.episode(name);
      // A new episode object: a staleness check that read the backups before this one succeeded sees it is outdated.
      this.episodes.set(name, { failing: false, stale: false });
      if (episode.failing || episode.stale) await this.tell('recovery', database, { backupId: m.id });
      await this.tell('success', database, { backupId: m.id });
      this.armStaleTimer(database, (await this.statuses([database]))[0]!);
    } catch (error) {
      if (signal.aborted) {
        log('warn', 'backup.cancelled', { database: name, message: 'nothing was kept' });
        return;
      }
      const message = (error as Error).message;
      log('error', 'backup.failed', { database: name, error: message });
      this.options.onFailure?.(name);
      this.track(this.options.notifier.ping(name, 'failure', message), 'ping-failure', name);
      const episode = this.episode(name);
      if (!episode.failing) {
        episode.failing = true;
        await this.tell('failure', database, { error: message });
      }
    }
  }

  private async verify(database: NamedDatabase, signal: AbortSignal): Promise<void> {
    const { log, dir } = this.options;
    const name = database.name;
    const newest = await newestBackupOf({ dir, target: database.target, backup: database.backup });
    if (!newest) {
      log('warn', 'verify.skipped', { database: name, reason: 'no backup to verify yet' });
      return;
    }
    const restoreTest = engineTraits(newest.manifest.engine).restoreTest;
    log('info', 'verify.start', { database: name, id: newest.manifest.id, restoreTest });
    let problems: string[];
    try {
      const [result] = await verifyBackup({
        dir,
        ref: newest.manifest.id,
        restoreTest,
        decrypt: this.options.decryption !== undefined,
        decryption: this.options.decryption,
        target: database.target,
        remote: database.backup.remote,
        signal,
      });
      problems = result!.verification.ok ? [] : result!.verification.problems;
    } catch (error) {
      if (signal.aborted) {
        log('warn', 'verify.cancelled', { database: name, message: 'nothing was recorded' });
        return;
      }
      problems = [(error as Error).message];
    }
    if (problems.length === 0) {
      log('info', 'verify.done', { database: name, id: newest.manifest.id, restoreTest });
      return;
    }
    log('error', 'verify.failed', { database: name, id: newest.manifest.id, problems });
    await this.tell('verify-failed', database, { backupId: newest.manifest.id, error: problems.join('; ') });
  }

  /** Every minute: one read of the backups folder for all databases that are not already known to be stale. */
  private async checkAllStale(): Promise<void> {
    const unknown = this.databases.filter((d) => !this.episode(d.name).stale);
    if (this.stopping || unknown.length === 0) return;
    const episodes = unknown.map((d) => this.episode(d.name));
    const statuses = await this.statuses(unknown);
    for (const [i, database] of unknown.entries()) await this.checkStale(database, { status: statuses[i]!, episode: episodes[i]! });
  }

  /**
   * Alerts once per episode when the database has no good backup within maxAge (counted from serve's start when it
   * never had one). `known` is a status read earlier, with the episode that was current before it was read.
   */
  private async checkStale(database: NamedDatabase, known?: { status: DatabaseStatus; episode: Episode }): Promise<void> {
    const episode = known?.episode ?? this.episode(database.name);
    if (this.stopping || episode.stale) return;
    const status = known?.status ?? (await this.statuses([database]))[0];
    const now = this.now().getTime();
    const since = status!.newestGood ? Date.parse(status!.newestGood.createdAt) : this.startedAt.getTime();
    // Not stale; or a check that overlapped this one already told; or a backup succeeded since the status was read.
    if (now - since <= database.maxAgeMs || episode.stale || this.episode(database.name) !== episode) return;
    episode.stale = true;
    this.options.log('warn', 'backup.stale', { database: database.name, newest: status!.newestGood?.id ?? null, maxAgeMs: database.maxAgeMs });
    await this.tell('stale', database, {});
  }

  /** A timer for the moment the newest good backup turns stale, so the alert does not wait for the minute check. */
  private armStaleTimer(database: NamedDatabase, status: DatabaseStatus): void {
    clearTimeout(this.staleTimers.get(database.name));
    const since = status.newestGood ? Date.parse(status.newestGood.createdAt) : this.startedAt.getTime();
    const wait = since + database.maxAgeMs - this.now().getTime() + 50;
    if (wait > MAX_TIMER_MS) return;
    this.staleTimers.set(database.name, setTimeout(() => void this.checkStale(database), Math.max(0, wait)));
  }

  private episode(name: string): Episode {
    let episode = this.episodes.get(name);
    if (!episode) this.episodes.set(name, (episode = { failing: false, stale: false }));
    return episode;
  }

  private statuses(databases = this.databases): Promise<DatabaseStatus[]> {
    return backupStatus({ databases, dir: this.options.dir, now: this.now });
  }

  /** Sends a notification in the background (never delays or fails a job) and logs each channel's result. */
  private async tell(event: NotifyEvent, database: NamedDatabase, detail: { error?: string; backupId?: string }): Promise<void> {
    const [status] = await this.statuses([database]).catch(() => [undefined]);
    const newest = status?.newestGood;
    const sending = this.options.notifier.notify({
      event,
      database: database.name,
      display: database.target.display,
      ...detail,
      newestGood: newest ? { id: newest.id, createdAt: newest.createdAt, age: formatAge(newest.ageMs) } : null,
      command: `dbguard status --database ${database.name}`,
      at: this.now().toISOString(),
    });
    this.track(sending, event, database.name);
  }

  private track(sending: Promise<SendResult[]>, event: string, database: string): void {
    const logged = sending.then((results) => {
      for (const r of results) {
        if (r.ok) this.options.log('info', 'notify.sent', { database, notification: event, channel: r.channel, attempts: r.attempts });
        else this.options.log('error', 'notify.failed', { database, notification: event, channel: r.channel, attempts: r.attempts, error: r.error });
      }
    });
    this.pending.add(logged);
    void logged.finally(() => this.pending.delete(logged));
  }
}

/** A missed run: the newest good backup is older than one interval of the schedule (or there is none). */
function needsCatchUp(database: NamedDatabase, status: DatabaseStatus, now: Date): boolean {
  if (!status.newestGood) return true;
  const interval = scheduleInterval(database.schedule!, now);
  return interval !== null && status.newestGood.ageMs > interval;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
