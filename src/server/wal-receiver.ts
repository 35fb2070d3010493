/**
 * Streams one database's WAL with `pg_receivewal --slot` into a private spool folder, and ships it into the WAL
 * archive: every finished segment once, and the segment in progress whenever the server's position is confirmed
 * received, at least every quarter of maxLag. The receiver is restarted when it stops; a receiver left running by a
 * killed serve is stopped first (its pid file), and the new one resumes from the spool or the slot: no gap.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { NamedDatabase } from '../config/databases.js';
import { type Coverage, WalShipper } from '../core/wal-archive.js';
import { isSegmentName, parseLsn, parseSegmentName, segmentEndLsn } from '../core/wal-names.js';
import { type PostgresDatabase, slotName, walArchiveOf } from '../core/pitr.js';
import { connectPg, pgToolEnv, pgToolPath, waitForPgTool } from '../engines/pg-tools.js';
import { ensurePrivateDir, isProcessAlive } from '../storage/fs-atomic.js';
import type { Logger } from './log.js';

export interface ReceiverEvents {
  /** The lag passed maxLag, or the slot holds back more than allowed (once per episode). */
  onAlert(database: NamedDatabase, message: string): void;
}

export interface ReceiverState {
  /** The newest moment the archive recovers to. */
  newest: string | null;
  lagMs: number | null;
  retainedBytes: number | null;
  streaming: boolean;
}

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Runs `$@` (pg_receivewal) so that it dies with serve, even after a `kill -9`: a watcher waits for the end of its
 * stdin, a pipe only serve writes to, which the kernel closes when serve dies; then it stops the receiver (which
 * flushes what it received). `exec` replaces the shell, so the child serve knows is the receiver itself.
 */
const DIE_WITH_PARENT = `exec 3<&0
( while read -r _ <&3; do :; done; kill -TERM $$ ) </dev/null >/dev/null 2>&1 &
exec "$@" </dev/null 3<&-`;

export class WalReceiver {
  private child: ChildProcess | undefined;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = 1000;
  private stopping = false;
  private ticking: Promise<void> | undefined;
  private readonly shipper: WalShipper;
  private readonly spool: string;
  private readonly slot: string;
  /** The server's WAL position sampled at a moment, not yet known to be received. */
  private pending: Coverage | undefined;
  /** Samples known to be received (newest last). */
  private confirmed: Coverage[] = [];
  private segmentSize: number | undefined;
  private alerts = { lag: false, retained: false, remote: false };
  state: ReceiverState = { newest: null, lagMs: null, retainedBytes: null, streaming: false };
  /**
   * While the database has no base backup yet there is no window to lag behind: the lag is not alerted then (the
   * base backup itself is watched instead).
   */
  awaitingFirstBase = false;
  private startedAt = 0;

  constructor(
    readonly database: PostgresDatabase,
    private readonly dir: string,
    private readonly log: Logger,
    private readonly events: ReceiverEvents,
    private readonly now: () => Date = () => new Date(),
  ) {
    const { compression, encryption } = database.backup;
    this.shipper = new WalShipper(walArchiveOf(database, dir), {
      compression: compression ?? { algorithm: 'zstd' },
      encryption,
      remotePartialEveryMs: Math.floor(database.pitr!.maxLagMs / 2),
      now,
    });
    this.spool = path.join(dir, '.dbguard', 'wal-spool', database.name);
    this.slot = slotName(database.name);
  }

  get tickMs(): number {
    return Math.min(10_000, Math.max(500, Math.floor(this.database.pitr!.maxLagMs / 4)));
  }

  async start(): Promise<void> {
    await ensurePrivateDir(path.dirname(this.spool));
    await ensurePrivateDir(this.spool);
    this.state.newest = await this.shipper.load();
    this.startedAt = this.now().getTime();
    await this.stopLeftover();
    this.spawn();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    await this.ticking;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await this.client?.end().catch(() => {});
    // Ship what the receiver flushed on its way out, so a stop loses nothing that was received.
    await this.shipFinished().catch(() => {});
    await fs.rm(this.pidFile, { force: true });
  }

  private get pidFile(): string {
    return path.join(this.spool, 'receiver.pid');
  }

  /** A pg_receivewal that a killed serve left running still holds the slot: stop it. */
  private async stopLeftover(): Promise<void> {
    const pid = Number(await fs.readFile(this.pidFile, 'utf8').catch(() => ''));
    if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return;
    const command = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (command !== '' && !command.includes('pg_receivewal')) return; // the pid was reused by another program
    this.log('warn', 'pitr.receiver-leftover', { database: this.database.name, pid, action: 'stopped' });
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  private spawn(): void {
    if (this.stopping) return;
    const args = [`--directory=${this.spool}`, `--slot=${this.slot}`, '--no-loop', '--no-password', '--status-interval=1'];
    const env = pgToolEnv(this.database.target.connection);
    const child = spawn('sh', ['-c', DIE_WITH_PARENT, 'sh', pgToolPath('pg_receivewal', env), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    void fs.writeFile(this.pidFile, String(child.pid ?? ''), { mode: 0o600 }).catch(() => {});
    this.state.streaming = true;
    const started = Date.now();
    this.log('info', 'pitr.streaming', { database: this.database.name, slot: this.slot, pid: child.pid });
    child.stdout?.resume();
    waitForPgTool('pg_receivewal', child).then(
      () => this.exited(started, 'exited'),
      (error: unknown) => this.exited(started, (error as Error).message),
    );
  }

  private exited(started: number, reason: string): void {
    this.state.streaming = false;
    this.child?.stdin?.destroy(); // its watcher goes too
    if (this.stopping) return;
    if (Date.now() - started > 60_000) this.restartDelayMs = 1000;
    this.log('error', 'pitr.receiver-stopped', { database: this.database.name, error: reason, restartInMs: this.restartDelayMs });
    this.restartTimer = setTimeout(() => this.spawn(), this.restartDelayMs);
    this.restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, this.restartDelayMs * 2);
  }

  /** One round: confirm what was received, ship finished segments, then the segment in progress; check the lag. */
  tick(): Promise<void> {
    if (this.ticking || this.stopping) return this.ticking ?? Promise.resolve();
    this.ticking = this.round()
      .catch((error: unknown) => this.log('error', 'pitr.ship-failed', { database: this.database.name, error: (error as Error).message }))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async round(): Promise<void> {
    this.shipper.beginRound();
    const confirmedNow = await this.sample().catch((error: unknown) => {
      this.log('warn', 'pitr.sample-failed', { database: this.database.name, error: (error as Error).message });
      void this.client?.end().catch(() => {});
      this.client = undefined;
      return false;
    });
    await this.shipFinished();
    if (confirmedNow) await this.shipPartial();
    this.checkRemote();
    this.checkLag();
  }

  /** The bucket failed: the WAL waits in the spool (and the local folder) until it answers again. */
  private checkRemote(): void {
    const outcome = this.shipper.remoteOutcome;
    const where = this.shipper.archive.remote?.display;
    if (outcome instanceof Error && !this.alerts.remote) {
      const reason = outcome.message.split('\n')[0];
      this.log('error', 'pitr.remote-failed', { database: this.database.name, remote: where, error: reason });
      this.events.onAlert(this.database, `the WAL cannot be copied to ${where}: ${reason}; it waits on this machine until the bucket answers`);
      this.alerts.remote = true;
    } else if (outcome === 'ok' && this.alerts.remote) {
      this.log('info', 'pitr.remote-recovered', { database: this.database.name, remote: where });
      this.alerts.remote = false;
    }
  }

  /** Samples the server's WAL position; true when an earlier sample is now known to be received. */
  private async sample(): Promise<boolean> {
    this.client ??= await connectPg(this.database.target.connection);
    const at = this.now().toISOString();
    const { rows } = await this.client.query<{ lsn: string; written: string | null; retained: string | null; size: string }>(
      `SELECT pg_current_wal_lsn()::text AS lsn, r.write_lsn::text AS written,
              (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS size,
              pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained
       FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
       WHERE s.slot_name = $1`,
      [this.slot],
    );
    const row = rows[0];
    if (!row) throw new Error(`the replication slot ${this.slot} does not exist (run dbguard pitr enable)`);
    this.segmentSize = Number(row.size);
    this.state.retainedBytes = row.retained === null ? null : Number(row.retained);
    const sample = { at, lsn: row.lsn };
    const written = row.written === null ? null : parseLsn(row.written);
    let confirmed = false;
    for (const candidate of [this.pending, sample]) {
      if (candidate && written !== null && written >= parseLsn(candidate.lsn)) {
        this.confirmed.push(candidate);
        confirmed = true;
      }
    }
    this.confirmed = this.confirmed.slice(-256);
    this.pending = confirmed && this.confirmed.at(-1) === sample ? undefined : sample;
    return confirmed;
  }

  /** The newest received sample inside segments up to `segment`: what that segment's shipment covers. */
  private coverageUpTo(segment: string): Coverage | null {
    const size = this.segmentSize;
    if (size === undefined) return null;
    const end = segmentEndLsn(parseSegmentName(segment, size), size);
    return [...this.confirmed].reverse().find((c) => parseLsn(c.lsn) <= end) ?? null;
  }


  private async shipFinished(): Promise<void> {
    const names = (await fs.readdir(this.spool).catch(() => [] as string[])).filter(isSegmentName).sort();
    for (const segment of names) {
      const file = path.join(this.spool, segment);
      const { shipped, complete } = await this.shipper.shipFinished(file, segment, this.coverageUpTo(segment));
      if (shipped) {
        this.log('info', 'pitr.segment', { database: this.database.name, segment, size: shipped.object.size, where: shipped.location });
        this.advance(shipped.object.coverage);
      }
      if (complete) await fs.rm(file, { force: true });
    }
  }

  private async shipPartial(): Promise<void> {
    const name = (await fs.readdir(this.spool).catch(() => [] as string[])).find((n) => n.endsWith('.partial') && isSegmentName(n.slice(0, -8)));
    if (!name) return;
    const coverage = this.confirmed.at(-1) ?? null;
    try {
      if (await this.shipper.shipPartial(path.join(this.spool, name), name.slice(0, -8), coverage)) this.advance(coverage);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // finished meanwhile: shipped as a finished segment next round
      throw error;
    }
  }

  private advance(coverage: Coverage | null): void {
    if (coverage && (!this.state.newest || coverage.at > this.state.newest)) this.state.newest = coverage.at;
  }

  private checkLag(): void {
    const { maxLagMs, maxSlotWalBytes } = this.database.pitr!;
    const name = this.database.name;
    const now = this.now().getTime();
    const { newest } = this.state;
    this.state.lagMs = newest ? Math.max(0, now - Date.parse(newest)) : null;
    // Nothing shipped yet: what could be restored is as old as the start of streaming.
    const lagMs = this.state.lagMs ?? now - this.startedAt;
    const lagging = !this.awaitingFirstBase && lagMs > maxLagMs;
    if (lagging && !this.alerts.lag) {
      const limit = `maxLag (${Math.round(maxLagMs / 1000)}s)`;
      const message = newest
        ? `the newest restorable point (${newest}) is older than ${limit}`
        : `no WAL has been shipped since streaming started at ${new Date(this.startedAt).toISOString()}, longer ago than ${limit}`;
      this.log('warn', 'pitr.lag', { database: name, newest, lagMs, maxLagMs });
      this.events.onAlert(this.database, message);
    } else if (!lagging && this.alerts.lag) this.log('info', 'pitr.caught-up', { database: name, newest: this.state.newest });
    this.alerts.lag = lagging;
    const retained = this.state.retainedBytes;
    const holding = retained !== null && retained > maxSlotWalBytes;
    if (holding && !this.alerts.retained) {
      const message = `the replication slot ${this.slot} holds back ${mb(retained)} of WAL on the server (limit ${mb(maxSlotWalBytes)}): the server's disk fills if nothing reads it`;
      this.log('warn', 'pitr.slot-retained', { database: name, retainedBytes: retained, maxSlotWalBytes });
      this.events.onAlert(this.database, message);
    }
    this.alerts.retained = holding;
  }
}

export function mb(bytes: number): string {
  return `${Number((bytes / 1048576).toFixed(1))} MB`;
}
