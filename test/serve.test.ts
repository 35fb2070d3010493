import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { parseAllDocuments } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { createDatabase, fillSampleData, withClient } from './harness/pg-db.js';
import { httpReceiver, smtpReceiver } from './harness/receivers.js';
import { eventually, startServe } from './harness/serve.js';
import { createSqliteDb } from './harness/sqlite-db.js';
import { tempDir } from './harness/tmp.js';

type Serve = ReturnType<typeof startServe>;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function serve(cwd: string, env: Record<string, string> = {}, args: string[] = []): Serve {
  const s = startServe(cwd, env, args);
  cleanups.push(() => s.stop('SIGKILL'));
  return s;
}

async function receiver(options: { failFirst?: number } = {}) {
  const r = await httpReceiver(options);
  cleanups.push(r.close);
  return r;
}

function writeConfig(cwd: string, config: unknown): void {
  writeFileSync(path.join(cwd, 'dbguard.config.json'), JSON.stringify(config, null, 2));
}

function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
}

interface PromFamily {
  name: string;
  metrics: Array<{ value: string; labels?: Record<string, string> }>;
}

async function scrape(url: string): Promise<Map<string, PromFamily>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await response.text()) as PromFamily[];
  return new Map(families.map((f) => [f.name, f]));
}

function metric(families: Map<string, PromFamily>, name: string, labels: Record<string, string>): number | undefined {
  const found = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return found ? Number(found.value) : undefined;
}

describe('dbguard serve', () => {
  let big: { name: string; url: string };
  beforeAll(async () => {
    big = await createDatabase('served');
    // Large enough that pg_dump works for a while, so a signal lands in the middle of a backup.
    await withClient(big.name, (c) =>
      c.query(`CREATE TABLE blobs AS SELECT i AS id, md5(i::text) || repeat(md5((i * 7)::text), 30) AS payload FROM generate_series(1, 150000) i`),
    );
  });

  it('backs up and verifies PostgreSQL and SQLite on their schedules, pings, signs webhooks and exports metrics', async () => {
    const cwd = tempDir();
    createSqliteDb(cwd, { name: 'lite.db', orders: 100 });
    const pg = await createDatabase('sched');
    await fillSampleData(pg.name, 50);
    const hook = await receiver();
    const ping = await receiver();
    writeConfig(cwd, {
      databases: {
        lite: { url: 'file:./lite.db', schedule: '*/2 * * * * *', verify: '*/3 * * * * *', maxAge: '1h' },
        pg: { url: '${PG_URL}', schedule: '*/2 * * * * *', verify: '*/3 * * * * *', maxAge: '1h' },
      },
      notify: [
        { type: 'webhook', url: `${hook.url}/hook/\${HOOK_TOKEN}`, secret: '${HOOK_SECRET}', on: ['success'], databases: ['pg'] },
        { type: 'ping', url: `${ping.url}/ping/abc-123`, databases: ['lite'] },
      ],
    });
    const env = { PG_URL: pg.url, HOOK_TOKEN: 'T0ken-in-path', HOOK_SECRET: 's3cret-key' };
    const s = serve(cwd, env);
    const url = await s.url();

    await s.waitFor(s.event('backup.done', 'lite'), 'a SQLite backup');
    await s.waitFor(s.event('backup.done', 'pg'), 'a PostgreSQL backup');
    const [pgVerified] = await s.waitFor(s.event('verify.done', 'pg'), 'a PostgreSQL verification');
    expect(pgVerified!.restoreTest).toBe(true);
    const [liteVerified] = await s.waitFor(s.event('verify.done', 'lite'), 'a SQLite verification');
    expect(liteVerified!.restoreTest).toBe(false);

    // One job per database at a time: a run due while another runs is skipped (backups every 2 s, verifications every 3 s).
    await s.waitFor((e) => /^(backup|verify)\.skipped$/.test(e.event) && /still running/.test(String(e.reason)), 'a run skipped as another runs');
    for (const database of ['lite', 'pg']) {
      let open = 0;
      for (const e of s.events.filter((x) => x.database === database)) {
        if (/^(backup|verify)\.start$/.test(e.event)) expect(++open, `overlapping jobs of ${database}`).toBe(1);
        if (/^(backup|verify)\.(done|failed|cancelled)$/.test(e.event)) open--;
      }
    }
    expect(await (await fetch(`${url}/healthz`)).text()).toBe('ok\n');
    const families = await scrape(url);
    for (const database of ['lite', 'pg']) {
      const lastSuccess = metric(families, 'dbguard_backup_last_success_timestamp_seconds', { database })!;
      expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(120);
      expect(metric(families, 'dbguard_backup_fresh', { database })).toBe(1);
      expect(metric(families, 'dbguard_backup_last_attempt_success', { database })).toBe(1);
      expect(metric(families, 'dbguard_backup_last_size_bytes', { database })).toBeGreaterThan(0);
      expect(metric(families, 'dbguard_backup_failures_total', { database })).toBe(0);
      expect(metric(families, 'dbguard_verification_last_success', { database })).toBe(1);
      expect(metric(families, 'dbguard_next_run_timestamp_seconds', { database, job: 'backup' })).toBeGreaterThan(Date.now() / 1000 - 1);
    }
    expect(metric(families, 'dbguard_backup_last_rows', { database: 'lite' })).toBe(100 + 300 + 100);
    expect(metric(families, 'dbguard_scheduler_up', {})).toBe(1);

    // The success webhook: the signature is the HMAC of the exact body.
    const delivered = await eventually(() => hook.requests.find((r) => JSON.parse(r.body).event === 'success'), 'the success webhook');
    expect(delivered.path).toBe('/hook/T0ken-in-path');
    expect(delivered.headers['x-dbguard-signature']).toBe(`sha256=${createHmac('sha256', 's3cret-key').update(delivered.body).digest('hex')}`);
    expect(JSON.parse(delivered.body)).toMatchObject({ event: 'success', database: 'pg', command: 'dbguard status --database pg' });
    // healthchecks.io-style pings: start, then success.
    await eventually(() => (ping.requests.some((r) => r.path === '/ping/abc-123') ? true : undefined), 'the success ping');
    expect(ping.requests.some((r) => r.path === '/ping/abc-123/start')).toBe(true);

    const status = await runCli(['status', '--json'], { cwd, env });
    expect(status.code, status.stderr).toBe(0);

    const { code } = await s.stop('SIGTERM');
    expect(code).toBe(0);
    expect(s.events.at(-1)?.event).toBe('serve.stopped');
    expect(s.output().stdout).not.toContain('T0ken-in-path');
    expect(s.output().stdout).not.toContain('s3cret-key');
  });

  it('a database that becomes unreachable: one failure alert, then stale after maxAge, then recovery', async () => {
    const cwd = tempDir();
    createSqliteDb(cwd, { name: 'shop.db', orders: 20 });
    const slack = await receiver({ failFirst: 1 }); // the first delivery is retried
    const smtp = await smtpReceiver('mailer', 'smtp-Pa55word');
    cleanups.push(smtp.close);
    writeConfig(cwd, {
      databases: { shop: { url: 'file:./shop.db', schedule: '* * * * * *', maxAge: '10s' } },
      notify: [
        { type: 'slack', url: `${slack.url}/services/T000/B000/XXXX` },
        { type: 'email', url: `smtp://mailer:\${SMTP_PASSWORD}@127.0.0.1:${smtp.port}`, from: 'dbguard@example.com', to: 'ops@example.com', on: ['failure', 'stale', 'recovery'] },
      ],
    });
    const s = serve(cwd, { SMTP_PASSWORD: 'smtp-Pa55word' });
    await s.waitFor(s.event('backup.done', 'shop'), 'a first backup');

    renameSync(path.join(cwd, 'shop.db'), path.join(cwd, 'moved.db'));
    await s.waitFor(s.event('backup.failed', 'shop'), 'three failed attempts', { count: 3 });
    await s.waitFor(s.event('backup.stale', 'shop'), 'staleness');
    await s.waitFor((e) => e.event === 'notify.sent' && String(e.channel).startsWith('email'), 'two mails', { count: 2 });
    renameSync(path.join(cwd, 'moved.db'), path.join(cwd, 'shop.db'));
    await s.waitFor((e) => e.event === 'notify.sent' && (e.channel as string).startsWith('slack'), 'three slack messages', { count: 3 });

    const messages = slack.requests.map((r) => JSON.parse(r.body).text as string);
    // The failure and the staleness can be noticed in either order on a busy machine (the failed attempt may take
    // longer than maxAge to fail); the recovery comes last. maxAge is 10 s so that a backup slowed down by a busy
    // machine does not make the database stale before the test breaks it. (Each channel's order: notify-order.test.ts.)
    expect(messages.map((m) => m.split('\n')[0]).sort()).toEqual(['*dbguard: shop: backup FAILED*', '*dbguard: shop: backups are STALE*', '*dbguard: shop: backups recovered*']);
    expect(messages.at(-1)).toMatch(/recovered/);
    const failure = messages.find((m) => m.includes('FAILED'))!;
    expect(failure).toMatch(/error: .*shop\.db does not exist/);
    expect(failure).toMatch(/newest good backup: shop-\d{8}T\d{6}Z, \d+s old/);
    expect(failure).toMatch(/more: dbguard status --database shop/);
    const retried = s.events.find((e) => e.event === 'notify.sent' && (e.channel as string).startsWith('slack'));
    expect(retried!.attempts).toBe(2);

    await eventually(() => (smtp.mails.length >= 3 ? true : undefined), 'three mails');
    const subjects = smtp.mails.map((m) => /^Subject: (.*)$/m.exec(m.raw)?.[1]?.trim());
    expect([...subjects].sort()).toEqual(['dbguard: shop: backup FAILED', 'dbguard: shop: backups are STALE', 'dbguard: shop: backups recovered']);
    expect(subjects.at(-1)).toBe('dbguard: shop: backups recovered');
    expect(smtp.mails[0]!.to).toEqual(['ops@example.com']);

    const { stdout } = s.output();
    expect(stdout).not.toContain('smtp-Pa55word');
    expect(stdout).not.toContain('/services/T000/B000/XXXX');
  });

  it('kill -9 during a scheduled backup leaves no half backup; the restart catches up once', async () => {
    const cwd = tempDir();
    writeConfig(cwd, { databases: { big: { url: '${BIG_URL}', schedule: '0 3 1 1 *' } } });
    const env = { BIG_URL: big.url };
    const first = serve(cwd, env);
    await first.waitFor(first.event('backup.catch-up', 'big'), 'the first catch-up');
    await eventually(() => (filesUnder(path.join(cwd, 'backups')).some((f) => f.endsWith('.partial')) ? true : undefined), 'a partial backup file');
    await first.stop('SIGKILL');
    const listed = await runCli(['list', '--json'], { cwd });
    expect(parseJson<unknown[]>(listed)).toEqual([]);

    const second = serve(cwd, env);
    await second.waitFor(second.event('backup.done', 'big'), 'the catch-up backup');
    expect(second.events.filter((e) => e.event === 'backup.catch-up')).toHaveLength(1);
    expect(second.events.filter((e) => e.event === 'backup.start')).toHaveLength(1);
    expect((await second.stop()).code).toBe(0);
    expect(filesUnder(path.join(cwd, 'backups')).filter((f) => /\.(partial|scratch|inprogress)$/.test(f))).toEqual([]);
    expect(parseJson<unknown[]>(await runCli(['list', '--json'], { cwd }))).toHaveLength(1);

    const third = serve(cwd, env);
    await third.waitFor(third.event('serve.ready'), 'start-up');
    expect(third.events.some((e) => e.event === 'backup.catch-up')).toBe(false);
  });

  it('SIGTERM during a backup cancels it cleanly and exits 0', async () => {
    const cwd = tempDir();
    writeConfig(cwd, { databases: { big: { url: '${BIG_URL}', schedule: '0 3 1 1 *' } } });
    const s = serve(cwd, { BIG_URL: big.url });
    await s.waitFor(s.event('backup.start', 'big'), 'the catch-up backup');
    await eventually(() => (filesUnder(path.join(cwd, 'backups')).some((f) => f.endsWith('.partial')) ? true : undefined), 'a partial backup file');
    const { code } = await s.stop('SIGTERM');
    expect(code).toBe(0);
    expect(s.events.map((e) => e.event)).toEqual(expect.arrayContaining(['signal', 'backup.cancelling', 'backup.cancelled', 'serve.stopped']));
    expect(filesUnder(path.join(cwd, 'backups')).filter((f) => /\.(partial|scratch|inprogress|dump)$/.test(f))).toEqual([]);
  });

  it('reloads a changed configuration, keeps the running one when the new one is invalid, and reloads on SIGHUP', async () => {
    const cwd = tempDir();
    createSqliteDb(cwd, { name: 'one.db', orders: 10 });
    createSqliteDb(cwd, { name: 'two.db', orders: 10 });
    writeConfig(cwd, { databases: { one: { url: 'file:./one.db', schedule: '0 3 1 1 *' } } });
    const s = serve(cwd);
    const url = await s.url();
    await s.waitFor(s.event('backup.done', 'one'), 'the first database backed up');

    writeConfig(cwd, { databases: { one: { url: 'file:./one.db', schedule: 'every minute' } } });
    const [invalid] = await s.waitFor(s.event('config.invalid'), 'the invalid configuration');
    expect(invalid!.error).toMatch(/databases\.one\.schedule: invalid schedule "every minute"/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    writeConfig(cwd, { databases: { one: { url: 'file:./one.db', schedule: '0 3 1 1 *' }, two: { url: 'file:./two.db', schedule: '0 3 1 1 *' } } });
    await s.waitFor(s.event('config.reloaded'), 'the reload');
    await s.waitFor(s.event('backup.done', 'two'), 'the new database backed up');
    expect(metric(await scrape(url), 'dbguard_backup_fresh', { database: 'two' })).toBe(1);

    s.child.kill('SIGHUP');
    await s.waitFor(s.event('config.reloaded'), 'a reload on SIGHUP', { count: 2 });
    expect(s.events.filter((e) => e.event === 'backup.done' && e.database === 'one')).toHaveLength(1); // no catch-up for a known database
  });

  it('notify test reports each channel; an unreachable one fails with exit 1 and without its secret', async () => {
    const cwd = tempDir();
    const hook = await receiver();
    const smtp = await smtpReceiver('u', 'pw-for-smtp');
    cleanups.push(smtp.close);
    const closed = await httpReceiver();
    await closed.close();
    writeConfig(cwd, {
      notify: [
        { type: 'discord', url: `${hook.url}/api/webhooks/1/secret-discord` },
        { type: 'email', url: `smtp://u:\${SMTP_PASSWORD}@127.0.0.1:${smtp.port}`, from: 'a@example.com', to: ['b@example.com'] },
        { type: 'slack', url: `${closed.url}/services/secret-slack` },
      ],
    });
    const result = await runCli(['notify', 'test'], { cwd, env: { SMTP_PASSWORD: 'pw-for-smtp' } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^sent {3}discord 127\.0\.0\.1:\d+$/m);
    expect(result.stdout).toMatch(/^sent {3}email 127\.0\.0\.1:\d+$/m);
    expect(result.stdout).toMatch(/^FAILED slack 127\.0\.0\.1:\d+: fetch failed: ECONNREFUSED \(2 attempts\)$/m);
    expect(result.stderr).toMatch(/1 of 3 channel\(s\) could not be reached/);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/secret-slack|secret-discord|pw-for-smtp/);
    expect(JSON.parse(hook.requests[0]!.body).content).toMatch(/^\*\*dbguard: default: test notification\*\*/);
    expect(smtp.mails).toHaveLength(1);

    const missing = await runCli(['notify', 'test'], { cwd });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/notify\[1\]\.url uses \$\{SMTP_PASSWORD\}, but SMTP_PASSWORD is not set/);
  });

  it('--print writes a systemd service, crontab lines and Kubernetes CronJobs for the configuration', async () => {
    const cwd = tempDir();
    writeConfig(cwd, { databases: { app: { url: '${APP_DATABASE_URL}', schedule: '15 * * * *', timeZone: 'Europe/Berlin' }, audit: { url: 'file:./audit.db' } } });
    const systemd = await runCli(['serve', '--print', 'systemd'], { cwd });
    expect(systemd.code).toBe(0);
    expect(systemd.stdout).toMatch(/^ExecStart=\S+node \S+main\.js serve$/m);
    expect(systemd.stdout).toContain(`WorkingDirectory=${cwd}`);
    expect(systemd.stdout).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);

    const cron = await runCli(['serve', '--print', 'cron'], { cwd });
    expect(cron.stdout).toMatch(/^CRON_TZ=Europe\/Berlin\n15 \* \* \* \* cd \S+ && \S+ \S+ backup --database app --type automatic/m);
    expect(cron.stdout).toMatch(/status > \/dev\/null/);

    const kube = await runCli(['serve', '--print', 'kubernetes'], { cwd });
    const docs = parseAllDocuments(kube.stdout).map((d) => d.toJS());
    expect(docs.map((d) => [d.kind, d.metadata.name, d.spec.schedule])).toEqual([
      ['CronJob', 'dbguard-backup-app', '15 * * * *'],
      ['CronJob', 'dbguard-backup-audit', '0 * * * *'],
    ]);
    const container = docs[0].spec.jobTemplate.spec.template.spec.containers[0];
    expect(container.args).toEqual(['backup', '--type', 'automatic', '--database', 'app']);
    expect(container.env).toEqual([{ name: 'APP_DATABASE_URL', valueFrom: { secretKeyRef: { name: 'dbguard-app', key: 'APP_DATABASE_URL' } } }]);

    writeConfig(cwd, { databases: { app: { url: 'file:./a.db', schedule: '*/5 * * * * *' } } });
    const seconds = await runCli(['serve', '--print', 'cron'], { cwd });
    expect(seconds.code).toBe(2);
    expect(seconds.stderr).toMatch(/has seconds; crontab and Kubernetes take 5 fields/);
  });

  it('an address in use or an invalid configuration at start is a usage error (exit 2)', async () => {
    const cwd = tempDir();
    createSqliteDb(cwd, { name: 'x.db', orders: 5 });
    const taken = await receiver();
    const inUse = await runCli(['serve', '--listen', taken.url.replace('http://', '')], { cwd, env: { DATABASE_URL: 'file:./x.db' } });
    expect(inUse.code).toBe(2);
    expect(inUse.stderr).toMatch(/address is in use/);

    writeConfig(cwd, { databases: { x: { url: '${NOT_SET_ANYWHERE}' } } });
    const invalid = await runCli(['serve', '--listen', '127.0.0.1:0'], { cwd });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/NOT_SET_ANYWHERE is not set/);
  });
});
