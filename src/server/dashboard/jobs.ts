import { randomBytes } from 'node:crypto';
import { DbguardError } from '../../errors.js';

export type JobKind = 'backup' | 'verify' | 'restore';

export type JobEvent =
  | { type: 'progress'; phase: string; bytes: number; total?: number | undefined }
  | { type: 'step'; text: string }
  | { type: 'done'; lines: string[]; backupId?: string | undefined }
  | { type: 'failed'; message: string; hint?: string | undefined };

export interface Job {
  id: string;
  kind: JobKind;
  database: string;
  startedAt: string;
  state: 'running' | 'done' | 'failed';
  events: JobEvent[];
}

/** What a running job reports through. */
export interface JobReporter {
  signal: AbortSignal;
  progress(phase: string, bytes: number, total?: number): void;
  step(text: string): void;
}

const PROGRESS_EVERY_MS = 200;
const KEPT_JOBS = 50;

/**
 * The dashboard's actions as jobs: one at a time per database, each with its events (kept for a late page or a
 * reconnecting event stream), cancelled when serve stops.
 */
export class Jobs {
  private jobs = new Map<string, Job>();
  private listeners = new Map<string, Set<(event: JobEvent) => void>>();
  private running = new Map<string, { job: Job; controller: AbortController; done: Promise<void> }>();

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** The running job of `database`, if any. */
  busy(database: string): Job | undefined {
    return this.running.get(database)?.job;
  }

  /** Starts `work`; it returns the lines of its result. */
  start(kind: JobKind, database: string, work: (reporter: JobReporter) => Promise<{ lines: string[]; backupId?: string | undefined }>): Job {
    const job: Job = { id: randomBytes(8).toString('hex'), kind, database, startedAt: new Date().toISOString(), state: 'running', events: [] };
    this.jobs.set(job.id, job);
    for (const old of [...this.jobs.keys()].slice(0, Math.max(0, this.jobs.size - KEPT_JOBS))) this.jobs.delete(old);
    const controller = new AbortController();
    let lastProgress = 0;
    const reporter: JobReporter = {
      signal: controller.signal,
      progress: (phase, bytes, total) => {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        this.emit(job, { type: 'progress', phase, bytes, total }, true);
      },
      step: (text) => this.emit(job, { type: 'step', text }),
    };
    const done = work(reporter).then(
      (result) => {
        job.state = 'done';
        this.emit(job, { type: 'done', ...result });
      },
      (error: unknown) => {
        job.state = 'failed';
        const hint = error instanceof DbguardError ? error.hint : undefined;
        this.emit(job, { type: 'failed', message: controller.signal.aborted ? 'Stopped: dbguard serve is stopping.' : (error as Error).message, hint });
      },
    ).finally(() => this.running.delete(database));
    this.running.set(database, { job, controller, done });
    return job;
  }

  /** Replays `job`'s events, then calls `listener` with each new one; returns the unsubscribe function. */
  subscribe(job: Job, listener: (event: JobEvent) => void): () => void {
    for (const event of job.events) listener(event);
    let set = this.listeners.get(job.id);
    if (!set) this.listeners.set(job.id, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Cancels running jobs and waits for them to clean up. */
  async stop(): Promise<void> {
    for (const { controller } of this.running.values()) controller.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private emit(job: Job, event: JobEvent, transient = false): void {
    // Progress is only kept as the latest one: a late subscriber needs where it is, not how it got there.
    if (transient) {
      const last = job.events.at(-1);
      if (last?.type === 'progress' && last.phase === (event as { phase: string }).phase) job.events.pop();
    }
    job.events.push(event);
    for (const listener of this.listeners.get(job.id) ?? []) listener(event);
    if (event.type === 'done' || event.type === 'failed') this.listeners.delete(job.id);
  }
}
