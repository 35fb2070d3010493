import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';
import type { ServerType } from '@hono/node-server';
import { CONFIG_FILES, loadConfig } from '../config/config-file.js';
import { type NamedDatabase, resolveDatabases, withDotenv } from '../config/databases.js';
import { DEFAULT_BACKUP_DIR } from '../core/defaults.js';
import { backupStatus } from '../core/status.js';
import { Notifier, resolveChannels } from '../notify/index.js';
import type { DecryptionKeys } from '../pipeline/encryption.js';
import { mountDashboard } from './dashboard/index.js';
import { DashboardGuard, dashboardAccess, isLoopback } from './dashboard/security.js';
import { createApp, listen } from './http.js';
import type { Logger } from './log.js';
import { ServeMetrics } from './metrics.js';
import { PitrService } from './pitr-service.js';
import { Scheduler } from './scheduler.js';

export interface ServeOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Backups folder (default: the config's backupDir, else ./backups). */
  dir?: string | undefined;
  listen: { host: string; port: number };
  log: Logger;
  decryption?: DecryptionKeys | undefined;
  /** Reload when a config file (or .env) in `cwd` changes (default true). */
  watchConfig?: boolean;
  /** The dashboard: `hosts` are names the Host header may carry besides the listen address (a reverse proxy's). */
  dashboard?: { readOnly?: boolean | undefined; hosts?: string[] | undefined } | undefined;
}

export interface ServeHandle {
  url: string;
  /** Reads the configuration again; an invalid one is logged and the running one kept. Resolves to whether it applied. */
  reload(): Promise<boolean>;
  /** No new job; running ones are cancelled cleanly; the HTTP server closes. */
  stop(): Promise<void>;
}

interface Loaded {
  databases: NamedDatabase[];
  notifier: Notifier;
  dir: string;
}

/**
 * `dbguard serve`: schedules every configured database's backups and verifications, notifies, and answers
 * /healthz and /metrics. An invalid configuration at start is an error (thrown); at a reload it is only logged.
 */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const { log } = options;
  const stopSending = new AbortController();
  const load = (): Loaded => {
    const { config } = loadConfig(options.cwd);
    const env = withDotenv(options.env, options.cwd);
    const databases = resolveDatabases({ config, env: options.env, cwd: options.cwd });
    const notifier = new Notifier(resolveChannels(config.notify ?? [], env), { signal: stopSending.signal });
    return { databases, notifier, dir: path.resolve(options.cwd, options.dir ?? config.backupDir ?? DEFAULT_BACKUP_DIR) };
  };

  let current = load();
  const metrics = new ServeMetrics();
  const scheduler = new Scheduler({
    dir: current.dir,
    log,
    notifier: current.notifier,
    decryption: options.decryption,
    onFailure: (database) => metrics.countFailure(database),
  });
  const pitr = new PitrService({ dir: current.dir, log, notifier: current.notifier, decryption: options.decryption });
  const app = createApp({
    healthy: () => scheduler.active,
    metrics: async () => ({
      body: await metrics.render(await backupStatus({ databases: current.databases, dir: current.dir }), scheduler.nextRuns(), scheduler.active, new Date(), pitr.metrics()),
      contentType: metrics.contentType,
    }),
  });
  const access = dashboardAccess({ listenHost: options.listen.host, envToken: options.env.DBGUARD_UI_TOKEN, hosts: options.dashboard?.hosts });
  const guard = new DashboardGuard(access);
  const readOnly = options.dashboard?.readOnly === true;
  const jobs = mountDashboard(app, { state: () => current, guard, readOnly, decryption: options.decryption, log });
  const { server, url } = await listen(app, options.listen);
  guard.bind(options.listen.host, Number(new URL(url).port));
  log('info', 'serve.start', { url, pid: process.pid, dir: current.dir, databases: describe(current.databases), channels: current.notifier.channels.map((c) => c.label) });
  // Printed once, as Jupyter does; a token the user set is theirs already and never printed.
  log('info', 'dashboard.ready', { url: access.generated ? `${url}/?token=${access.token}` : `${url}/?token=<DBGUARD_UI_TOKEN>`, readOnly });
  if (!isLoopback(options.listen.host)) {
    log('warn', 'dashboard.no-tls', { message: 'the dashboard is reachable beyond this machine over plain HTTP: put it behind a reverse proxy with TLS' });
  }
  try {
    await scheduler.configure(current.databases, current.notifier, current.dir);
    await pitr.configure(current.databases, current.notifier, current.dir);
  } catch (error) {
    await scheduler.stop();
    await pitr.stop();
    await closeServer(server); // an open server would keep the process alive after the error is reported
    throw error;
  }
  log('info', 'serve.ready', { next: scheduler.nextRuns().map((r) => ({ database: r.database, job: r.job, at: r.at.toISOString() })) });

  const reload = async (): Promise<boolean> => {
    let next: Loaded;
    try {
      next = load();
    } catch (error) {
      log('error', 'config.invalid', { error: (error as Error).message, kept: 'the running configuration' });
      return false;
    }
    current = next;
    await scheduler.configure(next.databases, next.notifier, next.dir);
    await pitr.configure(next.databases, next.notifier, next.dir);
    log('info', 'config.reloaded', { databases: describe(next.databases), channels: next.notifier.channels.map((c) => c.label) });
    return true;
  };

  const watcher = options.watchConfig === false ? undefined : watchConfig(options.cwd, () => void reload());
  let stopped: Promise<void> | undefined;
  return {
    url,
    reload,
    stop: () =>
      (stopped ??= (async () => {
        log('info', 'serve.stopping', {});
        watcher?.close();
        await Promise.all([scheduler.stop(), jobs.stop(), pitr.stop()]);
        stopSending.abort();
        await closeServer(server);
        log('info', 'serve.stopped', {});
      })()),
  };
}

function describe(databases: NamedDatabase[]) {
  return databases.map((d) => ({ name: d.name, url: d.target.display, schedule: d.schedule?.cron ?? null, verify: d.verify?.cron ?? null }));
}

/** Watches the folder (editors replace files by renaming), debounced. */
function watchConfig(cwd: string, onChange: () => void): FSWatcher | undefined {
  const names = new Set([...CONFIG_FILES, 'package.json', '.env']);
  let timer: NodeJS.Timeout | undefined;
  try {
    const watcher = watch(cwd, (_event, file) => {
      if (!file || !names.has(file.toString())) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, 300);
    });
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined; // no file watching here: SIGHUP still reloads
  }
}

function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}
