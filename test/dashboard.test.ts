import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup, parseDatabaseUrl } from '../dist/index.js';
import { appendAudit } from '../dist/guard/audit.js';
import { launchBrowser, screenshotDir } from './harness/browser.js';
import { runCli } from './harness/cli.js';
import { createDatabase, databaseExists, fillSampleData, withClient } from './harness/pg-db.js';
import { TEST_PASSWORD } from './harness/postgres.js';
import { startServe } from './harness/serve.js';
import { createSqliteDb } from './harness/sqlite-db.js';

const TOKEN = 'read-only-test-token-0123456789';

/** A raw request, so that the Host and Origin headers are exactly what an attacker's page would send. */
function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function backupIds(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.json') && !f.includes('.dbguard'));
}

describe('dashboard in a real browser', () => {
  let cwd: string;
  let pg: { name: string; url: string };
  let serve: ReturnType<typeof startServe>;
  let base: string;
  let printed: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let newBackup: string;
  const shots = screenshotDir('dashboard');
  const restoredName = () => `${pg.name}_copy`;

  beforeAll(async () => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'dbguard-dashboard-'));
    createSqliteDb(cwd, { name: 'lite.db', orders: 50 });
    pg = await createDatabase('dash');
    await fillSampleData(pg.name, 50);
    writeFileSync(
      path.join(cwd, 'dbguard.config.json'),
      JSON.stringify({ databases: { pg: { url: '${PG_URL}', schedule: '0 3 * * *', verify: '0 4 * * *' }, lite: { url: 'file:./lite.db' } } }),
    );
    const env = { PG_URL: pg.url };
    for (const name of ['pg', 'lite']) expect((await runCli(['backup', '--database', name], { cwd, env })).code).toBe(0);
    const dir = path.join(cwd, 'backups');
    const migration = await backup({
      target: parseDatabaseUrl('file:./lite.db', cwd),
      dir,
      type: 'migration',
      migration: { tool: 'drizzle', lastApplied: '0001_init', pending: ['0002_add_email'], findings: ['DROP COLUMN users.nickname: 12 non-null values'] },
      retention: false,
    });
    await appendAudit(dir, {
      time: new Date().toISOString(),
      command: 'npx prisma migrate reset --force',
      reason: 'reset the dev database',
      approvedBy: 'terminal',
      backupId: migration.manifest.id,
      database: 'lite.db',
      rules: ['prisma-migrate-reset'],
    });
    serve = startServe(cwd, env);
    printed = (await serve.waitFor(serve.event('dashboard.ready'), 'dashboard.ready'))[0]!.url as string;
    base = await serve.url();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    if (pg) await withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${restoredName()}`));
    rmSync(cwd, { recursive: true, force: true });
  });

  it('refuses a request without the token, from a forged Host, and a POST without the CSRF token or from another origin', async () => {
    const token = new URL(printed).searchParams.get('token')!;
    const auth = { authorization: `Bearer ${token}` };
    expect((await request(`${base}/`)).status).toBe(401);
    expect((await request(`${base}/backups`)).status).toBe(401);
    expect((await request(`${base}/?token=wrong-${token}`)).status).toBe(401);
    expect((await request(`${base}/`, { headers: auth })).status).toBe(200);
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, so the browser sends the attacker's Host.
    const rebound = await request(`${base}/?token=${token}`, { headers: { host: `attacker.example:${new URL(base).port}` } });
    expect(rebound.status).toBe(403);
    expect(rebound.headers['set-cookie']).toBeUndefined();

    const csrf = /name="csrf-token" content="([^"]+)"/.exec((await request(`${base}/`, { headers: auth })).body)![1]!;
    const form = { ...auth, 'content-type': 'application/x-www-form-urlencoded' };
    const before = backupIds(path.join(cwd, 'backups')).length;
    expect((await request(`${base}/actions/backup`, { method: 'POST', headers: form, body: 'database=lite' })).status).toBe(403);
    expect((await request(`${base}/actions/backup`, { method: 'POST', headers: form, body: 'database=lite&csrf=forged' })).status).toBe(403);
    const crossOrigin = { ...form, origin: 'http://attacker.example' };
    expect((await request(`${base}/actions/backup`, { method: 'POST', headers: crossOrigin, body: `database=lite&csrf=${csrf}` })).status).toBe(403);
    expect(backupIds(path.join(cwd, 'backups'))).toHaveLength(before);

    // No secret in any page: neither the token nor the database password.
    for (const p of ['/', '/backups', '/guard', '/backups?database=pg']) {
      const body = (await request(`${base}${p}`, { headers: auth })).body;
      expect(body).not.toContain(token);
      expect(body).not.toContain(TEST_PASSWORD.slice(0, 8));
      expect(body).not.toContain(encodeURIComponent(TEST_PASSWORD).slice(0, 12));
    }
  });

  it('opens with the printed URL: an HttpOnly SameSite=Strict cookie, the token gone from the address bar, every database at a glance', async () => {
    await page.goto(printed);
    expect(page.url()).toBe(`${base}/`);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookie!.value).not.toBe(new URL(printed).searchParams.get('token'));
    await expect(page.locator('h1').textContent()).resolves.toBe('All 2 databases are protected');
    const pgCard = page.locator('section.card', { has: page.locator('h2', { hasText: /^pg/ }) });
    await expect(pgCard.locator('.badge').textContent()).resolves.toBe('fresh');
    await expect(pgCard.textContent()).resolves.toMatch(/Next verify\s*\d{4}-\d\d-\d\d 04:00/);
    // uPlot, served by dbguard itself, drew the SQLite database's two backups.
    await page.locator('[data-chart="lite"] canvas').waitFor();
    await page.screenshot({ path: path.join(shots, 'overview.png'), fullPage: true });
  });

  it('backs up now with live progress, then lists the new backup', async () => {
    const pgCard = page.locator('section.card', { has: page.locator('h2', { hasText: /^pg/ }) });
    await pgCard.getByRole('button', { name: 'Back up now' }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f]+$/);
    const done = page.getByRole('status');
    await done.waitFor();
    newBackup = /Backup (\S+) taken/.exec((await done.textContent())!)![1]!;
    await page.screenshot({ path: path.join(shots, 'job-backup.png'), fullPage: true });
    // The event stream the page listened to: progress (bytes written), then the result.
    const events = await (await page.request.get(`${page.url()}/events`)).text();
    expect(events).toMatch(/event: progress\ndata: \{"type":"progress","phase":"writing","bytes":\d+/);
    expect(events).toContain(`event: done`);

    await page.goto(`${base}/backups?database=pg`);
    await expect(page.locator('tbody tr').count()).resolves.toBe(2);
    await expect(page.locator('tbody tr').first().textContent()).resolves.toContain(newBackup);
    await page.screenshot({ path: path.join(shots, 'backups.png'), fullPage: true });
  });

  it('verifies a PostgreSQL backup with a restore test, and compares it with the live database', async () => {
    await page.goto(`${base}/backups/${newBackup}`);
    await page.getByRole('button', { name: 'Verify (restore test)' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/verified: checksum ok, readable ok, row counts match \(restore test\)/);

    await withClient(pg.name, (c) => c.query(`INSERT INTO users (email) SELECT 'later' || i || '@example.com' FROM generate_series(1, 7) i`));
    await page.goto(`${base}/backups/${newBackup}`);
    await page.getByRole('link', { name: 'Compare with live' }).click();
    const users = page.locator('tbody tr', { has: page.locator('td', { hasText: /^public\.users$/ }) });
    await expect(users.locator('td').allTextContents()).resolves.toEqual(['public.users', '50', '57', '+7']);
    await page.screenshot({ path: path.join(shots, 'backup.png'), fullPage: true });
    // Two backups of each database, one verified: the overview the README shows (docs/dashboard.png).
    await page.goto(`${base}/`);
    await page.locator('[data-chart="pg"] canvas').waitFor();
    await page.screenshot({ path: path.join(shots, 'overview-verified.png'), fullPage: true });
  });

  it('restores into a new database only with its name typed, checked on the server', async () => {
    await page.goto(`${base}/backups/${newBackup}`);
    await page.getByLabel("New database's name").fill(restoredName());
    await page.getByLabel(/Type the name/).fill(pg.name); // the live database's name, not the one restored into
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('Refused');
    await expect(page.getByRole('alert').textContent()).resolves.toContain(`Type ${restoredName()} exactly`);
    expect(await databaseExists(restoredName())).toBe(false);

    await page.goto(`${base}/backups/${newBackup}`);
    await page.getByLabel("New database's name").fill(restoredName());
    await page.getByLabel(/Type the name/).fill(restoredName());
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect(page.getByRole('status').textContent()).resolves.toMatch(/Restored .* \(created\): .*row counts match the backup\.\s*Nothing to undo/);
    const rows = await withClient(restoredName(), (c) => c.query<{ n: string }>('SELECT count(*) AS n FROM users'));
    expect(rows.rows[0]!.n).toBe('50');
  });

  it('restores SQLite over itself, showing the safety backup and how to undo', async () => {
    const file = path.join(cwd, 'lite.db');
    const db = new Database(file);
    db.exec('DELETE FROM lines; DELETE FROM orders');
    db.close();
    await page.goto(`${base}/backups?database=lite&type=manual`);
    await page.locator('tbody a').first().click();
    await page.getByLabel(/over lite/).check();
    await page.getByLabel(/Type the name/).fill('lite.db');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    const result = (await page.getByRole('status').textContent())!;
    const safety = /Undo: restore the safety backup (\S+)/.exec(result)![1]!;
    await expect(page.locator('ol.steps').textContent()).resolves.toContain(`Safety backup of the current database: ${safety}`);
    expect(result).toContain(`dbguard restore ${safety} --database lite`);
    await page.screenshot({ path: path.join(shots, 'job-restore.png'), fullPage: true });
    const restored = new Database(file, { readonly: true });
    expect(restored.prepare('SELECT count(*) AS n FROM orders').get()).toEqual({ n: 50 });
    restored.close();
    // The safety backup holds what was replaced (no orders) and is one click away.
    await page.getByRole('link', { name: `backup ${safety}` }).click();
    await expect(page.locator('tbody tr', { has: page.locator('td', { hasText: /^orders$/ }) }).locator('td').nth(1).textContent()).resolves.toBe('0');
  });

  it('downloads a backup file byte for byte', async () => {
    await page.goto(`${base}/backups/${newBackup}`);
    const sha = (await page.locator('dt:text-is("sha256") + dd').textContent())!;
    const response = await page.request.get(`${base}/backups/${newBackup}/download`);
    expect(response.status()).toBe(200);
    expect(response.headers()['content-disposition']).toMatch(/^attachment; filename="[\w.-]+"$/);
    expect(createHash('sha256').update(await response.body()).digest('hex')).toBe(sha);
  });

  it('shows the guard audit log and the migration history, and reads on a phone', async () => {
    await page.goto(`${base}/guard`);
    await expect(page.locator('main').textContent()).resolves.toContain('npx prisma migrate reset --force');
    const migration = page.locator('tbody tr', { hasText: 'drizzle' });
    await expect(migration.locator('td').nth(3).textContent()).resolves.toBe('0001_init');
    await expect(migration.locator('td').nth(4).textContent()).resolves.toBe('0002_add_email');
    await expect(migration.locator('td').nth(5).textContent()).resolves.toBe('DROP COLUMN users.nickname: 12 non-null values');
    await page.screenshot({ path: path.join(shots, 'guard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(shots, 'overview-phone-dark.png'), fullPage: true });
  });

  it('read-only: offers no action and refuses every one, even with a valid CSRF token', async () => {
    const readOnly = startServe(cwd, { PG_URL: pg.url, DBGUARD_UI_TOKEN: TOKEN }, ['--read-only']);
    try {
      const url = await readOnly.url();
      const ro = await browser.newContext();
      const roPage = await ro.newPage();
      await roPage.goto(`${url}/?token=${TOKEN}`);
      await expect(roPage.locator('header').textContent()).resolves.toContain('read-only');
      await expect(roPage.locator('form[method="post"]').count()).resolves.toBe(0);
      await roPage.goto(`${url}/backups/${newBackup}`);
      await expect(roPage.getByRole('button').count()).resolves.toBe(0);
      const csrf = await roPage.locator('meta[name="csrf-token"]').getAttribute('content');
      const before = backupIds(path.join(cwd, 'backups')).length;
      const refused = await roPage.request.post(`${url}/actions/backup`, { form: { database: 'lite', csrf: csrf! } });
      expect(refused.status()).toBe(403);
      expect(await refused.text()).toContain('--read-only');
      expect(backupIds(path.join(cwd, 'backups'))).toHaveLength(before);
      await ro.close();
    } finally {
      await readOnly.stop();
    }
    // Beyond loopback, a token must be set on purpose.
    const open = await runCli(['serve', '--listen', '0.0.0.0:0'], { cwd, env: { PG_URL: pg.url } });
    expect(open.code).toBe(2);
    expect(open.stderr).toContain('DBGUARD_UI_TOKEN');
  });
});
