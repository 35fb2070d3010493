import { html, raw } from 'hono/html';
import type { EngineKind } from '../../engines/types.js';
import type { HtmlEscapedString } from 'hono/utils/html';
import prettyBytes from 'pretty-bytes';
import type { DatabaseBackup } from '../../core/list.js';
import type { LiveCount } from '../../core/live-counts.js';
import { type DatabaseStatus, formatAge } from '../../core/status.js';
import { totalRows } from '../../core/table-counts.js';
import type { AuditEntry } from '../../guard/audit.js';
import { BACKUP_TYPES, type BackupManifest } from '../../storage/manifest.js';
import type { Job } from './jobs.js';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface PageContext {
  csrf: string;
  readOnly: boolean;
  now: Date;
}

const NAV = [
  ['/', 'Overview'],
  ['/backups', 'Backups'],
  ['/guard', 'Guard'],
] as const;

export function layout(ctx: PageContext, title: string, active: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${ctx.csrf}">
<title>${title} · dbguard</title>
<link rel="stylesheet" href="/assets/uplot.css">
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<header>
<strong>dbguard</strong>
<nav aria-label="Main">${NAV.map(([href, label]) => html`<a href="${href}"${raw(href === active ? ' aria-current="page"' : '')}>${label}</a>`)}</nav>
${ctx.readOnly ? html`<span class="ro">read-only: actions are off</span>` : ''}
</header>
<main>
${body}
</main>
<script src="/assets/uplot.js"></script>
<script src="/assets/app.js"></script>
</body>
</html>`;
}

export function date(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z') : '—';
}

function ago(iso: string, now: Date): string {
  return `${formatAge(Math.max(0, now.getTime() - Date.parse(iso)))} ago`;
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function csrfField(ctx: PageContext): Html {
  return html`<input type="hidden" name="csrf" value="${ctx.csrf}">`;
}

/** A POST button (nothing at all in read-only mode). */
function actionButton(ctx: PageContext, action: string, fields: Record<string, string>, label: string, secondary = false): Html | string {
  if (ctx.readOnly) return '';
  return html`<form method="post" action="${action}">${csrfField(ctx)}${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<button${raw(secondary ? ' class="secondary"' : '')}>${label}</button></form>`;
}

function verification(m: BackupManifest): Html {
  if (!m.verification) return html`<span class="muted">not verified</span>`;
  return m.verification.ok
    ? html`<span class="ok">${m.verification.restoreTest ? 'restore-tested' : 'verified'}</span>`
    : html`<span class="bad">failed</span>`;
}

export interface Overview {
  statuses: DatabaseStatus[];
  /** Where the newest good backup's copies are, by database. */
  where: Record<string, string>;
  charts: Record<string, [number[], number[], number[]]>;
}

export function overviewPage(ctx: PageContext, o: Overview): Html {
  const protectedCount = o.statuses.filter((s) => s.state === 'fresh').length;
  const body = html`<h1>${protectedCount === o.statuses.length ? `All ${o.statuses.length} database${o.statuses.length === 1 ? ' is' : 's are'} protected` : `${o.statuses.length - protectedCount} of ${o.statuses.length} databases need attention`}</h1>
<div class="cards">
${o.statuses.map((s) => databaseCard(ctx, s, o.where[s.name]))}
</div>
<script type="application/json" id="charts-data">${raw(JSON.stringify(o.charts).replace(/</g, '\\u003c'))}</script>`;
  return layout(ctx, 'Overview', '/', body);
}

function databaseCard(ctx: PageContext, s: DatabaseStatus, where: string | undefined): Html {
  const good = s.newestGood;
  const v = s.lastVerification;
  return html`<section class="card" aria-labelledby="db-${s.name}">
<h2 id="db-${s.name}">${s.name} <span class="badge ${s.state}">${s.state}</span></h2>
<div class="muted small">${s.engine} · ${s.display}</div>
${s.problems.length > 0 ? html`<ul class="problems">${s.problems.map((p) => html`<li>${p}</li>`)}</ul>` : ''}
<dl class="facts">
<dt>Newest good</dt><dd>${good ? html`<a href="/backups/${good.id}">${good.id}</a> · ${formatAge(good.ageMs)} ago · ${prettyBytes(good.size)} · ${good.rows} rows` : 'none'}</dd>
<dt>Copies</dt><dd>${where ?? '—'}</dd>
<dt>Last verified</dt><dd>${v ? html`<span class="${v.ok ? 'ok' : 'bad'}">${v.ok ? (v.restoreTest ? 'restore test passed' : 'checksum ok') : 'FAILED'}</span> · ${ago(v.at, ctx.now)}` : html`<span class="muted">never</span>`}</dd>
<dt>Next backup</dt><dd>${s.nextBackup ? date(s.nextBackup) : html`<span class="muted">not scheduled</span>`}</dd>
<dt>Next verify</dt><dd>${s.nextVerify ? date(s.nextVerify) : html`<span class="muted">not scheduled</span>`}</dd>
</dl>
<div class="chart" data-chart="${s.name}" role="img" aria-label="Backup size and duration over time for ${s.name}"></div>
<div class="actions">
${actionButton(ctx, '/actions/backup', { database: s.name }, 'Back up now')}
${good ? actionButton(ctx, '/actions/verify', { id: good.id }, 'Verify newest', true) : ''}
<a class="button secondary" href="/backups?database=${encodeURIComponent(s.name)}">Backups</a>
</div>
</section>`;
}

export interface BackupFilters {
  database?: string | undefined;
  type?: string | undefined;
  where?: string | undefined;
  verified?: string | undefined;
}

export function backupsPage(ctx: PageContext, databases: string[], backups: DatabaseBackup[], filters: BackupFilters): Html {
  const select = (name: keyof BackupFilters, label: string, options: string[]) =>
    html`<label>${label}<select name="${name}"><option value="">all</option>${options.map((o) => html`<option${raw(filters[name] === o ? ' selected' : '')}>${o}</option>`)}</select></label>`;
  const body = html`<h1>Backups</h1>
<form class="filters" method="get" action="/backups">
${select('database', 'Database', databases)}
${select('type', 'Type', [...BACKUP_TYPES])}
${select('where', 'Location', ['local', 'remote', 'local+remote'])}
${select('verified', 'Verification', ['verified', 'failed', 'not verified'])}
<button class="secondary">Filter</button>
</form>
<p class="muted small">${backups.length} backup${backups.length === 1 ? '' : 's'}</p>
<div class="table-wrap"><table>
<thead><tr><th>Id</th><th>Database</th><th>Type</th><th>Taken</th><th class="num">Size</th><th class="num">Took</th><th class="num">Rows</th><th>Where</th><th>Verification</th></tr></thead>
<tbody>
${backups.map(
  (b) => html`<tr><td><a href="/backups/${b.manifest.id}">${b.manifest.id}</a></td><td>${b.databaseName}</td><td>${b.manifest.type}</td><td>${date(b.manifest.createdAt)}</td><td class="num">${prettyBytes(b.manifest.size)}</td><td class="num">${duration(b.manifest.durationMs)}</td><td class="num">${totalRows(b.manifest.tables)}</td><td>${b.where}</td><td>${verification(b.manifest)}</td></tr>`,
)}
</tbody></table></div>`;
  return layout(ctx, 'Backups', '/backups', body);
}

export function matchesFilters(b: DatabaseBackup, f: BackupFilters): boolean {
  const state = !b.manifest.verification ? 'not verified' : b.manifest.verification.ok ? 'verified' : 'failed';
  return (!f.database || b.databaseName === f.database) && (!f.type || b.manifest.type === f.type) && (!f.where || b.where === f.where) && (!f.verified || state === f.verified);
}

export interface BackupView {
  backup: DatabaseBackup;
  /** The name the user types to restore over the configured database. */
  databaseName: string;
  engine: EngineKind;
  live?: LiveCount[] | undefined;
  liveError?: string | undefined;
}

export function backupPage(ctx: PageContext, v: BackupView): Html {
  const m = v.backup.manifest;
  const restorable = m.type !== 'export';
  const facts: Array<[string, unknown]> = [
    ['Database', `${v.backup.databaseName} (${m.engine}${m.database.host ? ` on ${m.database.host}` : ''}, ${m.database.name})`],
    ['Type', m.type],
    ['Taken', `${date(m.createdAt)} (${ago(m.createdAt, ctx.now)})`],
    ['Label', m.label ?? '—'],
    ['Description', m.description ?? '—'],
    ['Format', `${m.format}${m.compression !== 'none' ? `, ${m.compression}` : ''}${m.encryption ? `, age-encrypted${m.encryption.passphrase ? ' (passphrase)' : ''}` : ''}`],
    ['Size', `${prettyBytes(m.size)} (${m.size} bytes)`],
    ['sha256', m.sha256],
    ['Took', duration(m.durationMs)],
    ['Where', v.backup.where],
    ['Server', m.serverVersion],
    ['dbguard', m.dbguardVersion],
    ['Verification', m.verification ? `${m.verification.ok ? 'ok' : 'FAILED'} at ${date(m.verifiedAt)}${m.verification.restoreTest ? ' (restore test)' : ''}${m.verification.problems.length ? `: ${m.verification.problems.join('; ')}` : ''}` : 'not verified'],
  ];
  if (m.migration) facts.push(['Migration', `${m.migration.tool}; last applied: ${m.migration.lastApplied ?? 'none'}; pending: ${m.migration.pending.join(', ') || 'none'}`]);
  const liveRows = v.live ? new Map(v.live.map((l) => [l.table, l])) : undefined;
  const tables = v.live ? v.live.map((l) => l.table) : Object.keys(m.tables).sort();
  const body = html`<h1>Backup ${m.id}</h1>
<dl class="facts">${facts.map(([k, val]) => html`<dt>${k}</dt><dd>${String(val)}</dd>`)}</dl>
<div class="actions">
${actionButton(ctx, '/actions/verify', { id: m.id }, m.engine !== 'sqlite' ? 'Verify (restore test)' : 'Verify')}
${v.backup.copies.local ? html`<a class="button secondary" href="/backups/${m.id}/download" download>Download</a>` : html`<span class="muted small">Only in the bucket: <code>dbguard pull ${m.id}</code> to download it.</span>`}
${m.type !== 'export' ? html`<a class="button secondary" href="/backups/${m.id}?compare=live#tables">Compare with live</a>` : ''}
</div>
<h2 id="tables">Tables</h2>
${v.liveError ? html`<p class="notice bad">Could not count the live rows: ${v.liveError}</p>` : ''}
<div class="table-wrap"><table>
<thead><tr><th>Table</th><th class="num">Rows in backup</th>${liveRows ? html`<th class="num">Rows now</th><th class="num">Change</th>` : ''}</tr></thead>
<tbody>${tables.map((t) => {
    const l = liveRows?.get(t);
    const change = l ? (l.backup === null ? 'new table' : l.live === null ? 'table gone' : signed(l.live - l.backup)) : '';
    return html`<tr><td>${t}</td><td class="num">${m.tables[t] ?? '—'}</td>${l ? html`<td class="num">${l.live ?? '—'}</td><td class="num ${change === '0' ? '' : 'warn'}">${change}</td>` : ''}</tr>`;
  })}</tbody>
</table></div>
${restorable && !ctx.readOnly ? restoreForm(ctx, v) : ''}`;
  return layout(ctx, `Backup ${m.id}`, '/backups', body);
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

function restoreForm(ctx: PageContext, v: BackupView): Html {
  const m = v.backup.manifest;
  return html`<form method="post" action="/actions/restore">
${csrfField(ctx)}<input type="hidden" name="id" value="${m.id}">
<fieldset>
<legend>Restore this backup</legend>
<p class="small muted">The backup's checksum and format are checked first; restoring over a database takes a safety backup of it first (its id is shown, to undo); the restore is all or nothing.</p>
<div><label class="radio"><input type="radio" name="into" value="new" checked> into a new database</label>
<label class="indent">New database's name<input name="name" autocomplete="off" value="${m.engine !== 'sqlite' ? `${v.databaseName}_restored` : `${v.databaseName.replace(/\.[^.]+$/, '')}-restored`}"></label></div>
<div><label class="radio"><input type="radio" name="into" value="same"> over ${v.backup.databaseName} (<code>${v.databaseName}</code>), replacing its content</label></div>
<label>Type the name of the database restored into to confirm<input name="confirm" autocomplete="off" required aria-describedby="confirm-help"></label>
<div id="confirm-help" class="small muted">The new database's name, or <code>${v.databaseName}</code> to restore over it.</div>
<button class="danger">Restore</button>
</fieldset>
</form>`;
}

export function guardPage(ctx: PageContext, audit: AuditEntry[], migrations: DatabaseBackup[]): Html {
  const body = html`<h1>Guard</h1>
<h2>Approved destructive commands</h2>
${audit.length === 0 ? html`<p class="muted">No destructive command was approved yet (the guard's audit log is empty).</p>` : html`<div class="table-wrap"><table>
<thead><tr><th>When</th><th>Command</th><th>Reason</th><th>Approved by</th><th>Database</th><th>Backup first</th></tr></thead>
<tbody>${[...audit].reverse().map((a) => html`<tr><td>${date(a.time)}</td><td class="wrap"><code>${a.command}</code></td><td class="wrap">${a.reason}</td><td>${a.approvedBy === 'terminal' ? 'typed the name' : '--approve'}${a.environment ? ` (${a.environment})` : ''}</td><td>${a.database}</td><td><a href="/backups/${a.backupId}">${a.backupId}</a></td></tr>`)}</tbody>
</table></div>`}
<h2>Migrations</h2>
${migrations.length === 0 ? html`<p class="muted">No migration backups yet (<code>dbguard migrate</code> takes one before each run).</p>` : html`<div class="table-wrap"><table>
<thead><tr><th>When</th><th>Database</th><th>Tool</th><th>Applied before</th><th>Pending then</th><th>Lint findings</th><th>Backup</th></tr></thead>
<tbody>${migrations.map((b) => html`<tr><td>${date(b.manifest.createdAt)}</td><td>${b.databaseName}</td><td>${b.manifest.migration?.tool ?? '—'}</td><td class="wrap">${b.manifest.migration?.lastApplied ?? 'none'}</td><td class="wrap">${(b.manifest.migration?.pending ?? []).join(', ') || 'none'}</td><td class="wrap">${findingsCell(b.manifest.migration?.findings)}</td><td><a href="/backups/${b.manifest.id}">${b.manifest.id}</a></td></tr>`)}</tbody>
</table></div>`}`;
  return layout(ctx, 'Guard', '/guard', body);
}

function findingsCell(findings: string[] | undefined): Html | string {
  if (findings === undefined) return html`<span class="muted">not recorded</span>`;
  return findings.length === 0 ? 'none' : html`<ul class="findings">${findings.map((f) => html`<li class="warn">${f}</li>`)}</ul>`;
}

const JOB_TITLES = { backup: 'Backup', verify: 'Verification', restore: 'Restore' } as const;

export function jobPage(ctx: PageContext, job: Job): Html {
  const steps = job.events.filter((e) => e.type === 'step');
  const end = job.events.find((e) => e.type === 'done' || e.type === 'failed');
  const body = html`<h1>${JOB_TITLES[job.kind]} of ${job.database}</h1>
<section data-job="${job.id}" data-state="${job.state}" aria-live="polite">
<p class="muted small">Started ${date(job.startedAt)}</p>
${job.state === 'running' ? html`<progress aria-label="progress"></progress><p data-progress>working…</p>` : ''}
<ol class="steps">${steps.map((s) => html`<li>${s.text}</li>`)}</ol>
${end?.type === 'done' ? html`<div class="notice ok" role="status">${end.lines.map((l) => html`<pre>${l}</pre>`)}</div>` : ''}
${end?.type === 'failed' ? html`<div class="notice bad" role="alert"><strong>Failed:</strong> <pre>${end.message}</pre>${end.hint ? html`<p>${end.hint}</p>` : ''}</div>` : ''}
</section>
<p><a href="/">Overview</a>${end?.type === 'done' && end.backupId ? html` · <a href="/backups/${end.backupId}">backup ${end.backupId}</a>` : ''}</p>`;
  return layout(ctx, JOB_TITLES[job.kind], '', body);
}

export function messagePage(ctx: PageContext, title: string, message: string, hint?: string): Html {
  return layout(ctx, title, '', html`<h1>${title}</h1><div class="notice bad" role="alert"><p>${message}</p>${hint ? html`<p>${hint}</p>` : ''}</div><p><a href="/">Overview</a> · <a href="/backups">Backups</a></p>`);
}
