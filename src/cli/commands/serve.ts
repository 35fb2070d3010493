import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { createLogger } from '../../server/log.js';
import { parseListen } from '../../server/http.js';
import { PRINT_KINDS, type PrintKind, printDeployment } from '../../server/print.js';
import { startServe } from '../../server/serve.js';
import { decryptionKeys } from '../keys.js';
import { yieldCpuToApplication } from '../priority.js';
import { type CliContext, addDirOption, config, print } from '../context.js';

interface ServeCliOptions {
  listen: string;
  dir?: string;
  nice: boolean;
  print?: PrintKind;
  readOnly?: boolean;
  allowHost?: string[];
}

export function registerServe(program: Command, ctx: CliContext): void {
  const command = program
    .command('serve')
    .description('run always: back up and verify every configured database on its schedule, alert, and export metrics')
    .option('--listen <host:port>', 'address of the dashboard, /healthz and /metrics', '127.0.0.1:7420')
    .option('--read-only', 'the dashboard shows everything but offers and accepts no action')
    .option('--allow-host <name...>', "host names the dashboard answers besides the listen address (a reverse proxy's)")
    .option('--no-nice', 'run at normal CPU priority (by default at nice +10, so your app keeps the CPU)')
    .addOption(new Option('--print <kind>', 'print a ready-to-use systemd service, crontab lines or Kubernetes CronJobs, and exit').choices(PRINT_KINDS));
  addDirOption(command);
  command.addHelpText(
    'after',
    `
Each database under "databases" in dbguard.config with a "schedule" (cron, 5 fields or 6 with seconds) is backed up
on it, verified on its "verify" schedule (a restore test for PostgreSQL), then pruned. One job per database at a
time: a run that comes due while the previous one still runs is skipped and logged. A run missed while serve was
down runs once at start. Notifications ("notify") go out on failure, recovery, staleness and failed verification.

Logs: one line per event, JSON when stdout is not a terminal. SIGHUP, or a change to the config file, reloads the
configuration (an invalid one is logged and the running one kept). SIGTERM or SIGINT cancels a running job cleanly
and exits.

HTTP: GET /healthz (200 while the scheduler runs), GET /metrics (Prometheus), and the dashboard at / (open the URL
with ?token= that serve prints at start, or set DBGUARD_UI_TOKEN; required when listening beyond loopback).`,
  );
  command.action(async (options: ServeCliOptions) => {
    if (options.print) {
      const cli = fileURLToPath(new URL('../main.js', import.meta.url));
      print(ctx, printDeployment(options.print, { config: config(ctx), cwd: ctx.cwd, command: `${process.execPath} ${cli}`, user: os.userInfo().username }));
      return;
    }
    const listen = parseListen(options.listen);
    if (options.nice) yieldCpuToApplication();
    const log = createLogger(ctx.stdout, ctx.stdout.isTTY !== true);
    const handle = await startServe({
      cwd: ctx.cwd,
      env: ctx.env,
      dir: options.dir,
      listen,
      log,
      decryption: await decryptionKeys(ctx, undefined),
      dashboard: { readOnly: options.readOnly, hosts: options.allowHost },
    });
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        log('info', 'signal', { signal });
        process.off('SIGHUP', hangup);
        void handle.stop().then(() => resolve());
      };
      const hangup = () => void handle.reload();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      process.on('SIGHUP', hangup);
    });
    // Everything is closed; should a library still hold the event loop, do not hang the service manager.
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
