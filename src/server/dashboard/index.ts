import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { siblingTarget } from '../../config/database-url.js';
import type { NamedDatabase } from '../../config/databases.js';
import { backup } from '../../core/backup.js';
import { type DatabaseBackup, listDatabaseBackups } from '../../core/list.js';
import { compareWithLive } from '../../core/live-counts.js';
import { restore } from '../../core/restore.js';
import { openSources } from '../../core/sources.js';
import { backupStatus } from '../../core/status.js';
import { totalRows } from '../../core/table-counts.js';
import { verifyBackup } from '../../core/verify.js';
import { engineFor, engineTraits } from '../../engines/index.js';
import { DbguardError, UsageError } from '../../errors.js';
import { readAudit } from '../../guard/audit.js';
import type { DecryptionKeys } from '../../pipeline/encryption.js';
import type { Logger } from '../log.js';
import { asset } from './assets.js';
import { type Job, type JobEvent, Jobs } from './jobs.js';
import type { DashboardGuard } from './security.js';
import { type BackupFilters, type PageContext, backupPage, backupsPage, guardPage, jobPage, matchesFilters, messagePage, overviewPage } from './views.js';

export interface DashboardOptions {
  /** The configuration in force (it changes on reload). */
  state: () => { databases: NamedDatabase[]; dir: string };
  guard: DashboardGuard;
  readOnly: boolean;
  decryption?: DecryptionKeys | undefined;
  log: Logger;
}

/**
 * The dashboard at `/`: overview, backups, guard log and migrations, and the actions (back up, verify, restore),
 * each through the same library functions as the CLI. Every route is behind the token and the Host check; every
 * action is a POST with the CSRF token. Returns the jobs, for serve to stop them.
 */
export function mountDashboard(app: Hono, options: DashboardOptions): Jobs {
  const { guard, log } = options;
  const jobs = new Jobs();
  const page = (): PageContext => ({ csrf: guard.csrf, readOnly: options.readOnly, now: new Date() });
  const listAll = () => {
    const { databases, dir } = options.state();
    return listDatabaseBackups({ databases, dir });
  };
  const findOne = async (id: string): Promise<{ backup: DatabaseBackup; database: NamedDatabase } | undefined> => {
    const found = (await listAll()).backups.find((b) => b.manifest.id === id);
    const database = found && options.state().databases.find((d) => d.name === found.databaseName);
    return found && database ? { backup: found, database } : undefined;
  };
  const notFound = (c: Context, what: string) => c.html(messagePage(page(), 'Not found', what), 404);

  app.use('*', guard.middleware());

  app.get('/assets/:name', async (c) => {
    const found = await asset(c.req.param('name'));
    return found ? c.body(found.body, 200, { 'content-type': found.type }) : c.notFound();
  });

  app.get('/favicon.ico', (c) => c.body(null, 204));

  app.get('/', async (c) => {
    const { databases, dir } = options.state();
    const [statuses, { backups }] = await Promise.all([backupStatus({ databases, dir }), listAll()]);
    const where: Record<string, string> = {};
    const charts: Record<string, [number[], number[], number[]]> = {};
    for (const s of statuses) {
      const newest = backups.find((b) => b.manifest.id === s.newestGood?.id);
      if (newest) where[s.name] = newest.where === 'local+remote' ? 'local and bucket' : newest.where === 'remote' ? 'bucket only' : 'local only';
      // The database's own backups: not exports (some rows), safety backups, or base backups (the whole server).
      const series = backups.filter((b) => b.databaseName === s.name && !['export', 'pre-restore', 'base'].includes(b.manifest.type)).reverse();
      charts[s.name] = [
        series.map((b) => Date.parse(b.manifest.createdAt) / 1000),
        series.map((b) => b.manifest.size),
        series.map((b) => Math.round(b.manifest.durationMs) / 1000),
      ];
    }
    return c.html(overviewPage(page(), { statuses, where, charts }));
  });

  app.get('/backups', async (c) => {
    const filters: BackupFilters = { database: c.req.query('database'), type: c.req.query('type'), where: c.req.query('where'), verified: c.req.query('verified') };
    const { backups } = await listAll();
    return c.html(backupsPage(page(), options.state().databases.map((d) => d.name), backups.filter((b) => matchesFilters(b, filters)), filters));
  });

  app.get('/backups/:id', async (c) => {
    const found = await findOne(c.req.param('id'));
    if (!found) return notFound(c, `No backup "${c.req.param('id')}" of a configured database.`);
    let live: Awaited<ReturnType<typeof compareWithLive>> | undefined;
    let liveError: string | undefined;
    if (c.req.query('compare') === 'live') {
      live = await compareWithLive(found.backup.manifest.tables, found.database.target).catch((error: Error) => ((liveError = error.message), undefined));
    }
    const engine = engineFor(found.database.target);
    return c.html(backupPage(page(), { backup: found.backup, databaseName: engine.identity().name, engine: engine.kind, live, liveError }));
  });

  app.get('/backups/:id/download', async (c) => {
    const found = await findOne(c.req.param('id'));
    const local = found?.backup.copies.local;
    if (!found || !local) return notFound(c, 'No local copy of this backup to download.');
    const store = openSources({ dir: options.state().dir }).local;
    const release = await store.markReading(local.manifest.id); // prune leaves it alone while it downloads
    const file = createReadStream(local.file);
    file.once('close', () => void release());
    log('info', 'dashboard.download', { id: local.manifest.id });
    return c.body(Readable.toWeb(file) as ReadableStream, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(local.manifest.size),
      'content-disposition': `attachment; filename="${local.manifest.fileName.replace(/[^\w.-]/g, '_')}"`,
    });
  });

  app.get('/guard', async (c) => {
    const { backups } = await listAll();
    const audit = await readAudit(options.state().dir);
    return c.html(guardPage(page(), audit, backups.filter((b) => b.manifest.type === 'migration')));
  });

  app.get('/jobs/:id', (c) => {
    const job = jobs.get(c.req.param('id'));
    return job ? c.html(jobPage(page(), job)) : notFound(c, 'No such job (serve keeps the last 50, until it restarts).');
  });

  app.get('/jobs/:id/events', (c) => {
    const job = jobs.get(c.req.param('id'));
    if (!job) return c.text('No such job.\n', 404);
    return streamSSE(c, async (stream) => {
      const queue: JobEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = jobs.subscribe(job, (event) => {
        queue.push(event);
        wake?.();
      });
      stream.onAbort(() => wake?.());
      try {
        while (!stream.aborted) {
          const event = queue.shift();
          if (!event) {
            await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
          if (event.type === 'done' || event.type === 'failed') break;
        }
      } finally {
        unsubscribe();
      }
    });
  });

  /** A POST action: CSRF, read-only, one job per database; then to the job's page. */
  const action = (path: string, handler: (c: Context, form: Record<string, string>) => Promise<Job | Response>) =>
    app.post(path, async (c) => {
      const checked = await guard.checkPost(c);
      if (!checked.ok) return checked.response;
      if (options.readOnly) return c.html(messagePage(page(), 'Read-only', 'dbguard serve runs with --read-only: actions are off.'), 403);
      try {
        const result = await handler(c, checked.form);
        return result instanceof Response ? result : c.redirect(`/jobs/${result.id}`, 303);
      } catch (error) {
        if (!(error instanceof DbguardError)) throw error;
        return c.html(messagePage(page(), 'Refused', error.message, error.hint), error instanceof UsageError ? 400 : 409);
      }
    });
  const idle = (database: NamedDatabase) => {
    const busy = jobs.busy(database.name);
    if (busy) throw new DbguardError(`A ${busy.kind} of ${database.name} is still running.`, { hint: `See /jobs/${busy.id}.` });
  };

  action('/actions/backup', async (c, form) => {
    const database = options.state().databases.find((d) => d.name === form.database);
    if (!database) return notFound(c, `No configured database named "${form.database ?? ''}".`);
    idle(database);
    const { dir } = options.state();
    log('info', 'dashboard.backup', { database: database.name });
    return jobs.start('backup', database.name, async (r) => {
      const { compression, encryption, retention, sizeWarningBytes, remote } = database.backup;
      const result = await backup({
        target: database.target,
        dir,
        type: 'manual',
        description: 'from the dbguard dashboard',
        compression,
        encryption,
        retention,
        sizeWarningBytes,
        remote,
        signal: r.signal,
        onProgress: (bytes, detail) => r.progress(detail?.phase === 'snapshot' ? 'snapshot' : 'writing', bytes, detail?.total),
        onUploadProgress: (bytes) => r.progress('uploading to the bucket', bytes),
        onWarning: (message) => r.step(`warning: ${message}`),
      });
      const m = result.manifest;
      log('info', 'dashboard.backup.done', { database: database.name, id: m.id });
      return { backupId: m.id, lines: [`Backup ${m.id} taken: ${Object.keys(m.tables).length} tables, ${totalRows(m.tables)} rows, ${m.size} bytes.`, ...result.warnings] };
    });
  });

  action('/actions/verify', async (c, form) => {
    const found = await findOne(form.id ?? '');
    if (!found) return notFound(c, `No backup "${form.id ?? ''}" of a configured database.`);
    idle(found.database);
    const m = found.backup.manifest;
    const restoreTest = engineTraits(m.engine).restoreTest;
    log('info', 'dashboard.verify', { database: found.database.name, id: m.id, restoreTest });
    return jobs.start('verify', found.database.name, async (r) => {
      r.step(restoreTest ? `Checking ${m.id}: checksum, then a restore into a scratch database and its row counts` : `Checking ${m.id}: checksum, integrity and row counts`);
      const [result] = await verifyBackup({
        dir: options.state().dir,
        ref: m.id,
        type: m.type,
        restoreTest,
        decrypt: options.decryption !== undefined,
        decryption: options.decryption,
        target: found.database.target,
        remote: found.database.backup.remote,
        signal: r.signal,
      });
      const v = result!.verification;
      log(v.ok ? 'info' : 'error', 'dashboard.verify.done', { id: m.id, ok: v.ok, problems: v.problems });
      if (!v.ok) throw new DbguardError(`Backup ${m.id} FAILED verification: ${v.problems.join('; ')}`);
      return { backupId: m.id, lines: [`Backup ${m.id} verified: checksum ${v.checksum}, readable ${v.readable}, row counts ${v.rowCounts}${v.restoreTest ? ' (restore test)' : ''}.`] };
    });
  });

  action('/actions/restore', async (c, form) => {
    const found = await findOne(form.id ?? '');
    if (!found) return notFound(c, `No backup "${form.id ?? ''}" of a configured database.`);
    const { database, backup: stored } = found;
    const target = form.into === 'same' ? database.target : siblingTarget(database.target, (form.name ?? '').trim());
    const expected = engineFor(target).identity().name;
    const typed = (form.confirm ?? '').trim();
    if (typed !== expected) {
      throw new UsageError(`Not restored: you typed "${typed}", but the database restored into is "${expected}".`, `Type ${expected} exactly to confirm.`);
    }
    idle(database);
    const m = stored.manifest;
    log('info', 'dashboard.restore', { database: database.name, id: m.id, into: target.display });
    return jobs.start('restore', database.name, async (r) => {
      const result = await restore({
        ref: m.id,
        type: m.type,
        dir: options.state().dir,
        target,
        requiredTables: database.requiredTables,
        decryption: options.decryption,
        safetyBackup: database.backup,
        remote: database.backup.remote,
        signal: r.signal,
        // Checked again here, against the plan the restore is about to carry out.
        confirm: async (plan) => plan.databaseName === typed,
        onDownloadProgress: (bytes) => r.progress('downloading from the bucket', bytes),
        onSafetyBackupProgress: (bytes, detail) => r.progress('safety backup', bytes, detail?.total),
        onStep: (step) => {
          if (step.step === 'verified') r.step(`Checksum and format of ${step.backup.id} verified.`);
          if (step.step === 'safety-backup') r.step(`Safety backup of the current database: ${step.id}`);
          if (step.step === 'restoring') r.step('Restoring (all or nothing)…');
          if (step.step === 'checking') r.step('Checking integrity and row counts…');
        },
      });
      log('info', 'dashboard.restore.done', { id: m.id, into: result.target, safetyBackupId: result.safetyBackupId });
      const lines = [
        `Restored ${m.id} into ${result.target}${result.createdTarget ? ' (created)' : ''}: ${Object.keys(result.tables).length} tables, ${totalRows(result.tables)} rows, row counts match the backup.`,
        result.safetyBackupId
          ? `Undo: restore the safety backup ${result.safetyBackupId} (its page has the Restore form), or run: dbguard restore ${result.safetyBackupId}${database.source === 'config' ? ` --database ${database.name}` : ''}`
          : 'Nothing to undo: the database did not exist before.',
      ];
      return { backupId: result.safetyBackupId ?? undefined, lines };
    });
  });

  return jobs;
}
