import { stringify } from 'yaml';
import type { DatabaseEntry, DbguardConfig } from '../config/config-file.js';
import { UsageError } from '../errors.js';

export const PRINT_KINDS = ['systemd', 'cron', 'kubernetes'] as const;
export type PrintKind = (typeof PRINT_KINDS)[number];

export interface PrintContext {
  config: DbguardConfig;
  /** The project folder serve runs in. */
  cwd: string;
  /** How to run dbguard here, e.g. `/usr/bin/node /app/node_modules/dbguard/dist/cli/main.js`. */
  command: string;
  user: string;
}

/** A ready-to-use systemd service, crontab lines or Kubernetes CronJobs for this configuration. */
export function printDeployment(kind: PrintKind, ctx: PrintContext): string {
  if (kind === 'systemd') return systemd(ctx);
  if (kind === 'cron') return crontab(ctx);
  return kubernetes(ctx);
}

function systemd({ cwd, command, user }: PrintContext): string {
  return `# /etc/systemd/system/dbguard.service  (then: systemctl daemon-reload && systemctl enable --now dbguard)
# Secrets (DATABASE_URL, webhook URLs, SMTP passwords) go in ${cwd}/.env or an EnvironmentFile readable only by ${user}.
[Unit]
Description=dbguard serve: scheduled backups, verifications and alerts
Wants=network-online.target
After=network-online.target postgresql.service mariadb.service mysql.service

[Service]
Type=simple
User=${user}
WorkingDirectory=${cwd}
EnvironmentFile=-${cwd}/.env
ExecStart=${command} serve
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=10
# SIGTERM cancels a running backup cleanly (nothing half-written is kept) and exits.
KillSignal=SIGTERM
TimeoutStopSec=30
NoNewPrivileges=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
`;
}

function crontab({ config, cwd, command }: PrintContext): string {
  const lines = [
    '# crontab -e  (each line runs one backup; `dbguard status` exits 1 when a database is not fresh)',
    `# Secrets come from ${cwd}/.env; the log goes to ${cwd}/dbguard-cron.log.`,
  ];
  const entries = Object.entries(config.databases ?? {});
  if (entries.length === 0) {
    lines.push(`0 * * * * cd ${cwd} && ${command} backup --type automatic >> dbguard-cron.log 2>&1`);
  }
  for (const [name, entry] of entries) {
    const schedule = cronSchedule(entry);
    if (entry.timeZone) lines.push(`CRON_TZ=${entry.timeZone}`);
    lines.push(`${schedule} cd ${cwd} && ${command} backup --database ${name} --type ${entry.type ?? 'automatic'} >> dbguard-cron.log 2>&1`);
  }
  lines.push(`*/15 * * * * cd ${cwd} && ${command} status > /dev/null 2>> dbguard-cron.log || echo "dbguard: backups not fresh" | logger -t dbguard`);
  return `${lines.join('\n')}\n`;
}

function kubernetes({ config }: PrintContext): string {
  const entries = Object.entries(config.databases ?? {});
  const jobs = (entries.length > 0 ? entries : [['default', { url: '${DATABASE_URL}' } as DatabaseEntry] as const]).map(([name, entry]) => {
    const variables = [...entry.url.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
    const env = (variables.length > 0 ? variables : ['DATABASE_URL']).map((variable) => ({
      name: variable,
      valueFrom: { secretKeyRef: { name: `dbguard-${name}`, key: variable } },
    }));
    const args = ['backup', '--type', entry.type ?? 'automatic', ...(entries.length > 0 ? ['--database', name] : [])];
    return {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: `dbguard-backup-${name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}` },
      spec: {
        schedule: entries.length > 0 ? cronSchedule(entry as DatabaseEntry) : '0 * * * *',
        ...(entry.timeZone ? { timeZone: entry.timeZone } : {}),
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 1,
            template: {
              spec: {
                restartPolicy: 'Never',
                containers: [
                  {
                    name: 'dbguard',
                    // Your application's image (it has node, your dbguard.config and dbguard in node_modules) with
                    // the client tools of your database installed (pg_dump; mariadb-dump or mysqldump).
                    image: 'your-app-image:latest',
                    command: ['npx', 'dbguard'],
                    args,
                    env,
                    volumeMounts: [{ name: 'backups', mountPath: '/app/backups' }],
                  },
                ],
                volumes: [{ name: 'backups', persistentVolumeClaim: { claimName: 'dbguard-backups' } }],
              },
            },
          },
        },
      },
    };
  });
  const secrets = jobs.map((job) => {
    const env = job.spec.jobTemplate.spec.template.spec.containers[0]!.env;
    return `#   kubectl create secret generic ${env[0]!.valueFrom.secretKeyRef.name} ${env.map((e) => `--from-literal=${e.name}='...'`).join(' ')}`;
  });
  return `# kubectl apply -f dbguard-cronjobs.yaml; Kubernetes is the scheduler, one CronJob per database.
# The database URLs come from Secrets, never from this file:
${[...new Set(secrets)].join('\n')}
# Backups go to the PersistentVolumeClaim dbguard-backups (or to the remote bucket in dbguard.config, shared by every job).
${jobs.map((job) => `---\n${stringify(job)}`).join('')}`;
}

function cronSchedule(entry: DatabaseEntry): string {
  return entry.schedule ? fiveFields(entry.schedule, 'schedule') : '0 * * * *';
}

/** crontab and Kubernetes take 5 fields: a 6-field (seconds) schedule is refused rather than silently changed. */
function fiveFields(schedule: string, where: string): string {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length === 5) return fields.join(' ');
  throw new UsageError(`${where} "${schedule}" has seconds; crontab and Kubernetes take 5 fields.`, 'Use a 5-field schedule, or run `dbguard serve`.');
}
