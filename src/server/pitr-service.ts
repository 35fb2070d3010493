import { Cron } from 'croner';
import type { NamedDatabase } from '../config/databases.js';
import { type PostgresDatabase, baseBackupsOf, ensureSlot, slotName, takeBaseBackup, walArchiveOf } from '../core/pitr.js';
import { isBase, restorableWindow } from '../core/pitr-window.js';
import { formatAge } from '../core/status.js';
import type { Notifier } from '../notify/index.js';
import { verifyPitr } from '../core/pitr-restore.js';
import type { DecryptionKeys } from '../pipeline/encryption.js';
import type { Logger } from './log.js';
import type { PitrMetrics } from './metrics.js';
import { type ReceiverState, WalReceiver, mb } from './wal-receiver.js';

interface Streamed {
  receiver: WalReceiver;
  base: Cron;
  /** On the database's `verify` schedule: the newest restorable point recovered and compared with the live database. */
  verify: Cron | undefined;
  /** The settings it was started with: a reload that changes them restarts it. */
  key: string;
  /** Read at start and after each base backup: when each base backup became consistent, and the holes. */
  window?: { bases: string[]; holes: number } | undefined;
  /** The next try of a first base backup that failed. */
  retry?: NodeJS.Timeout | undefined;
  retryDelayMs?: number;
}

/** A first base backup that failed is tried again after this, doubling up to an hour: until one succeeds there is no window. */
const FIRST_BASE_RETRY_MS = 10_000;
const MAX_FIRST_BASE_RETRY_MS = 3_600_000;

/** Point-in-time recovery inside serve: one WAL receiver and one base backup schedule per database with `pitr`. */
export class PitrService {
  private streamed = new Map<string, Streamed>();
  private running = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    private options: { dir: string; log: Logger; notifier: Notifier; decryption?: DecryptionKeys | undefined; now?: () => Date },
  ) {}

  async configure(databases: NamedDatabase[], notifier: Notifier, dir: string): Promise<void> {
    this.options = { ...this.options, notifier, dir };
    const wanted = new Map(databases.filter((d) => d.pitr && d.target.engine === 'postgres').map((d) => [d.name, d as PostgresDatabase]));
    for (const [name, streamed] of this.streamed) {
      if (wanted.get(name) && keyOf(wanted.get(name)!, dir) === streamed.key) continue;
      await this.stopOne(name);
    }
    for (const [name, database] of wanted) {
      if (this.streamed.has(name)) continue;
      try {
        await this.startOne(database);
      } catch (error) {
        this.options.log('error', 'pitr.failed', { database: name, error: (error as Error).message });
        await this.tell(database, `streaming could not start: ${(error as Error).message}`);
      }
    }
  }

  /** The state of each database's receiver (lag, newest restorable point, WAL held on the server). */
  states(): Array<{ database: string } & ReceiverState> {
    return [...this.streamed.entries()].map(([database, s]) => ({ database, ...s.receiver.state }));
  }

  /** For /metrics: the receivers' live state, with the window's start and holes as last read. */
  metrics(): PitrMetrics[] {
    return [...this.streamed.entries()].map(([database, s]) => {
      const { pitr } = s.receiver.database;
      const { state } = s.receiver;
      return {
        database,
        streaming: state.streaming,
        newest: state.newest,
        // The oldest base backup the WAL has reached: the window's start, without listing the archive at each scrape.
        oldest: state.newest ? (s.window?.bases.filter((at) => at <= state.newest!).sort()[0] ?? null) : null,
        holes: s.window?.holes ?? 0,
        lagMs: state.lagMs,
        maxLagMs: pitr!.maxLagMs,
        retainedBytes: state.retainedBytes,
        maxSlotWalBytes: pitr!.maxSlotWalBytes,
      };
    });
  }

  /** Reads the restorable window of the archive (the oldest point moves only with base backups and pruning). */
  private async refreshWindow(database: PostgresDatabase): Promise<void> {
    try {
      const [bases, { objects }] = await Promise.all([baseBackupsOf(database, this.options.dir), walArchiveOf(database, this.options.dir).list()]);
      const streamed = this.streamed.get(database.name);
      if (streamed) streamed.window = { bases: bases.flatMap((b) => (isBase(b) ? [b.manifest.base.consistentAt] : [])), holes: restorableWindow(bases, objects).holes.length };
    } catch (error) {
      this.options.log('warn', 'pitr.window-unknown', { database: database.name, error: (error as Error).message });
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running.values()]);
    for (const name of [...this.streamed.keys()]) await this.stopOne(name);
  }

  private async startOne(database: PostgresDatabase): Promise<void> {
    const { log, dir } = this.options;
    if (await ensureSlot(database.target.connection, slotName(database.name))) log('info', 'pitr.slot-created', { database: database.name, slot: slotName(database.name) });
    const receiver = new WalReceiver(database, dir, log, { onAlert: (d, message) => void this.tell(d, message) }, this.options.now);
    await receiver.start();
    const base = new Cron(database.pitr!.base.cron, { timezone: database.pitr!.base.timeZone, mode: '5-or-6-parts' }, () => void this.runBase(database));
    const verify = database.verify ? new Cron(database.verify.cron, { timezone: database.verify.timeZone, mode: '5-or-6-parts' }, () => void this.runVerify(database)) : undefined;
    this.streamed.set(database.name, { receiver, base, verify, key: keyOf(database, dir) });
    if ((await baseBackupsOf(database, dir)).length === 0) {
      receiver.awaitingFirstBase = true;
      void this.runBase(database);
    } else void this.refreshWindow(database);
  }

  private async stopOne(name: string): Promise<void> {
    const streamed = this.streamed.get(name);
    if (!streamed) return;
    this.streamed.delete(name);
    streamed.base.stop();
    streamed.verify?.stop();
    clearTimeout(streamed.retry);
    await streamed.receiver.stop();
    this.options.log('info', 'pitr.stopped', { database: name });
  }

  /** A base backup (one at a time per database), then the WAL no kept base backup needs is deleted. */
  private runBase(database: PostgresDatabase): Promise<void> {
    if (this.stopping || this.running.has(database.name)) return Promise.resolve();
    const { log, dir } = this.options;
    const first = this.streamed.get(database.name)?.receiver.awaitingFirstBase ?? false;
    const done = (async () => {
      log('info', 'pitr.base.start', { database: database.name, first });
      const watch = this.watchBase(database, first);
      try {
        const result = await takeBaseBackup({
          database,
          dir,
          onWarning: (message) => log('warn', 'pitr.base.warning', { database: database.name, message }),
          onProgress: watch.progress,
        });
        const streamed = this.streamed.get(database.name);
        if (streamed) {
          streamed.receiver.awaitingFirstBase = false;
          streamed.retryDelayMs = undefined;
        }
        await this.refreshWindow(database);
        const m = result.manifest;
        const prunedWal = result.windows.reduce((sum, w) => sum + w.walDeleted, 0);
        log('info', 'pitr.base.done', { database: database.name, id: m.id, size: m.size, durationMs: m.durationMs, startLsn: m.base?.startLsn, pruned: [...result.pruned, ...result.prunedRemote], prunedWal, windows: result.windows });
      } catch (error) {
        const message = (error as Error).message;
        const retryInMs = first ? this.retryFirstBase(database) : undefined;
        log('error', 'pitr.base.failed', { database: database.name, error: message, first, retryInMs });
        const next =
          retryInMs === undefined
            ? ''
            : `; there is no restorable window until a base backup succeeds: serve tries again in ${formatAge(retryInMs)} (or run dbguard pitr enable --database ${database.name})`;
        await this.tell(database, `${first ? 'the first ' : ''}base backup failed: ${message}${next}`);
      } finally {
        watch.stop();
      }
    })().finally(() => this.running.delete(database.name));
    this.running.set(database.name, done);
    return done;
  }

  /** Schedules the next try of a failed first base backup; returns its delay. */
  private retryFirstBase(database: PostgresDatabase): number | undefined {
    const streamed = this.streamed.get(database.name);
    if (!streamed || this.stopping) return undefined;
    const delay = streamed.retryDelayMs ?? Math.max(FIRST_BASE_RETRY_MS, database.pitr!.maxLagMs);
    streamed.retryDelayMs = Math.min(MAX_FIRST_BASE_RETRY_MS, delay * 2);
    clearTimeout(streamed.retry);
    streamed.retry = setTimeout(() => void this.runBase(database), delay);
    return delay;
  }

  /**
   * Watches a running base backup: when it reads nothing for maxLag it is reported (once, and when it moves again).
   * A first base backup that runs, however long, is not a lag: there is no window yet.
   */
  private watchBase(database: PostgresDatabase, first: boolean): { progress: (bytes: number) => void; stop: () => void } {
    const { log } = this.options;
    const now = () => (this.options.now ?? (() => new Date()))().getTime();
    const { maxLagMs } = database.pitr!;
    let bytes = 0;
    let movedAt = now();
    let stalled = false;
    const timer = setInterval(
      () => {
        const idleMs = now() - movedAt;
        if (stalled || idleMs <= maxLagMs) return;
        stalled = true;
        log('warn', 'pitr.base.stalled', { database: database.name, first, bytes, idleMs });
        const consequence = first ? ': there is no restorable window until it finishes' : '';
        void this.tell(database, `the ${first ? 'first ' : ''}base backup has read nothing for ${formatAge(idleMs)} (${mb(bytes)} so far)${consequence}`);
      },
      Math.min(10_000, Math.max(500, Math.floor(maxLagMs / 4))),
    );
    timer.unref();
    return {
      progress: (read) => {
        if (read === bytes) return;
        bytes = read;
        movedAt = now();
        if (stalled) log('info', 'pitr.base.moving', { database: database.name, first, bytes });
        stalled = false;
      },
      stop: () => clearInterval(timer),
    };
  }

  private runVerify(database: PostgresDatabase): Promise<void> {
    const key = `${database.name}/verify`;
    if (this.stopping || this.running.has(key)) return Promise.resolve();
    const { log, dir } = this.options;
    const done = (async () => {
      log('info', 'pitr.verify.start', { database: database.name });
      try {
        const result = await verifyPitr({ database, dir, decryption: this.options.decryption });
        if (result.ok) log('info', 'pitr.verify.done', { database: database.name, at: result.at, baseId: result.baseId, segments: result.segments });
        else {
          log('error', 'pitr.verify.failed', { database: database.name, at: result.at, problems: result.differences });
          await this.tell(database, `the recovered copy at ${result.at} differs from the live database: ${result.differences.join('; ')}`, 'verify-failed');
        }
      } catch (error) {
        log('error', 'pitr.verify.failed', { database: database.name, problems: [(error as Error).message] });
        await this.tell(database, `point-in-time recovery could not be verified: ${(error as Error).message}`, 'verify-failed');
      }
    })().finally(() => this.running.delete(key));
    this.running.set(key, done);
    return done;
  }

  private async tell(database: NamedDatabase, message: string, event: 'pitr-lag' | 'verify-failed' = 'pitr-lag'): Promise<void> {
    const state = this.streamed.get(database.name)?.receiver.state;
    const now = (this.options.now ?? (() => new Date()))();
    const results = await this.options.notifier.notify({
      event,
      database: database.name,
      display: database.target.display,
      error: message,
      newestGood: state?.newest ? { id: `restorable to ${state.newest}`, createdAt: state.newest, age: formatAge(now.getTime() - Date.parse(state.newest)) } : null,
      command: `dbguard pitr status --database ${database.name}`,
      at: now.toISOString(),
    });
    for (const r of results) {
      if (r.ok) this.options.log('info', 'notify.sent', { database: database.name, notification: event, channel: r.channel, attempts: r.attempts });
      else this.options.log('error', 'notify.failed', { database: database.name, notification: event, channel: r.channel, attempts: r.attempts, error: r.error });
    }
  }
}

function keyOf(database: PostgresDatabase, dir: string): string {
  const c = database.target.connection;
  return JSON.stringify([dir, c.host, c.port, c.user, c.database, c.password, database.pitr, database.backup.compression, database.backup.encryption]);
}
