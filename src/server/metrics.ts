import { Counter, Gauge, Registry } from 'prom-client';
import type { DatabaseStatus } from '../core/status.js';

/** What serve knows live about one database's point-in-time recovery. */
export interface PitrMetrics {
  database: string;
  streaming: boolean;
  newest: string | null;
  oldest: string | null;
  holes: number;
  lagMs: number | null;
  maxLagMs: number;
  retainedBytes: number | null;
  maxSlotWalBytes: number;
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

/**
 * Prometheus metrics per database. Gauges are filled from `backupStatus` at each scrape (so they are right after a
 * restart, and for backups other processes took); the failure counter counts attempts that failed in this process.
 */
export class ServeMetrics {
  readonly registry = new Registry();
  private readonly failures = new Counter({ name: 'dbguard_backup_failures_total', help: 'Backup attempts that failed since serve started', labelNames: ['database'], registers: [this.registry] });
  private readonly gauges = {
    lastSuccess: this.gauge('dbguard_backup_last_success_timestamp_seconds', 'Creation time of the newest good backup'),
    age: this.gauge('dbguard_backup_age_seconds', 'Age of the newest good backup'),
    fresh: this.gauge('dbguard_backup_fresh', '1 when the newest good backup is younger than maxAge and the last attempt succeeded'),
    maxAge: this.gauge('dbguard_backup_max_age_seconds', 'The configured maxAge'),
    attemptOk: this.gauge('dbguard_backup_last_attempt_success', '1 when the last backup attempt succeeded, 0 when it failed'),
    attemptTime: this.gauge('dbguard_backup_last_attempt_timestamp_seconds', 'Time of the last backup attempt'),
    duration: this.gauge('dbguard_backup_last_duration_seconds', 'Duration of the newest good backup'),
    size: this.gauge('dbguard_backup_last_size_bytes', 'Stored size of the newest good backup'),
    rows: this.gauge('dbguard_backup_last_rows', 'Total rows in the newest good backup'),
    verifyOk: this.gauge('dbguard_verification_last_success', '1 when the last verification passed, 0 when it failed'),
    verifyAge: this.gauge('dbguard_verification_age_seconds', 'Time since the last verification'),
  };
  private readonly pitr = {
    streaming: this.gauge('dbguard_pitr_streaming', '1 while the WAL receiver runs'),
    newest: this.gauge('dbguard_pitr_newest_restorable_timestamp_seconds', 'The newest moment point-in-time recovery restores'),
    oldest: this.gauge('dbguard_pitr_oldest_restorable_timestamp_seconds', 'The oldest moment point-in-time recovery restores (the oldest base backup)'),
    holes: this.gauge('dbguard_pitr_window_holes', 'Runs of WAL segments missing from the archive'),
    lag: this.gauge('dbguard_pitr_lag_seconds', 'Time since the newest restorable moment'),
    maxLag: this.gauge('dbguard_pitr_max_lag_seconds', 'The configured maxLag'),
    retained: this.gauge('dbguard_pitr_slot_retained_bytes', 'WAL the replication slot holds back on the server'),
    retainedLimit: this.gauge('dbguard_pitr_slot_retained_limit_bytes', 'The configured maxSlotWalMB, in bytes'),
  };
  private readonly nextRun = new Gauge({ name: 'dbguard_next_run_timestamp_seconds', help: 'Next scheduled run', labelNames: ['database', 'job'], registers: [this.registry] });
  private readonly up = new Gauge({ name: 'dbguard_scheduler_up', help: '1 while the scheduler runs', registers: [this.registry] });

  private gauge(name: string, help: string): Gauge<'database'> {
    return new Gauge({ name, help, labelNames: ['database'], registers: [this.registry] });
  }

  countFailure(database: string): void {
    this.failures.inc({ database });
  }

  /** The metrics text for one scrape. */
  async render(statuses: DatabaseStatus[], nextRuns: Array<{ database: string; job: string; at: Date }>, up: boolean, now = new Date(), pitr: PitrMetrics[] = []): Promise<string> {
    for (const gauge of [...Object.values(this.gauges), ...Object.values(this.pitr)]) gauge.reset();
    this.nextRun.reset();
    for (const s of statuses) {
      const database = s.name;
      const g = this.gauges;
      this.failures.inc({ database }, 0); // present (0) before the first failure
      g.fresh.set({ database }, s.state === 'fresh' ? 1 : 0);
      g.maxAge.set({ database }, s.maxAgeMs / 1000);
      if (s.newestGood) {
        g.lastSuccess.set({ database }, seconds(s.newestGood.createdAt));
        g.age.set({ database }, s.newestGood.ageMs / 1000);
        g.duration.set({ database }, s.newestGood.durationMs / 1000);
        g.size.set({ database }, s.newestGood.size);
        g.rows.set({ database }, s.newestGood.rows);
      }
      if (s.lastAttempt) {
        g.attemptOk.set({ database }, s.lastAttempt.ok ? 1 : 0);
        g.attemptTime.set({ database }, seconds(s.lastAttempt.at));
      }
      if (s.lastVerification) {
        g.verifyOk.set({ database }, s.lastVerification.ok ? 1 : 0);
        g.verifyAge.set({ database }, (now.getTime() - Date.parse(s.lastVerification.at)) / 1000);
      }
    }
    for (const p of pitr) {
      const database = p.database;
      const g = this.pitr;
      g.streaming.set({ database }, p.streaming ? 1 : 0);
      g.holes.set({ database }, p.holes);
      g.maxLag.set({ database }, p.maxLagMs / 1000);
      g.retainedLimit.set({ database }, p.maxSlotWalBytes);
      if (p.newest) {
        g.newest.set({ database }, seconds(p.newest));
        g.lag.set({ database }, Math.max(0, now.getTime() - Date.parse(p.newest)) / 1000);
      }
      if (p.oldest) g.oldest.set({ database }, seconds(p.oldest));
      if (p.retainedBytes !== null) g.retained.set({ database }, p.retainedBytes);
    }
    for (const run of nextRuns) this.nextRun.set({ database: run.database, job: run.job }, run.at.getTime() / 1000);
    this.up.set(up ? 1 : 0);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
