import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { type Change, readPackageJson, writeAtomic, writePackageJson } from './project-files.js';

/** The npm scripts `dbguard init` adds; a user's own script of the same name is kept. */
export const NPM_SCRIPTS: Readonly<Record<string, string>> = {
  'db:backup': 'dbguard backup',
  'db:restore': 'dbguard restore',
  'db:backups': 'dbguard list',
  'migrate:safe': 'dbguard migrate --name',
};

export const CLAUDE_HOOK_COMMAND = 'npx dbguard guard hook claude';

export async function addNpmScripts(dir: string): Promise<Change[]> {
  const pkg = await readPackageJson(dir);
  if (!pkg) return [{ file: 'package.json', action: 'kept', detail: 'no package.json here: npm scripts not added (run `npm init` first)' }];
  const scripts = { ...(pkg.data.scripts ?? {}) };
  const changes: Change[] = [];
  for (const [name, body] of Object.entries(NPM_SCRIPTS)) {
    const existing = scripts[name];
    if (existing === undefined) {
      scripts[name] = body;
      changes.push({ file: 'package.json', action: 'updated', detail: `added script ${name}: ${body}` });
    } else if (existing !== body) {
      changes.push({ file: 'package.json', action: 'kept', detail: `kept your script ${name} ("${existing}"); dbguard's would be "${body}"` });
    }
  }
  if (changes.some((c) => c.action === 'updated')) {
    pkg.data.scripts = scripts;
    await writePackageJson(pkg);
  }
  return changes;
}

/** `<dir>/*` ignored and `<dir>/.gitkeep` tracked, so the folder exists in every clone but no backup is committed. */
export async function ignoreBackups(projectDir: string, backupsDir: string): Promise<Change[]> {
  const relative = path.relative(projectDir, backupsDir).split(path.sep).join('/');
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    return [{ file: '.gitignore', action: 'kept', detail: `the backups folder ${backupsDir} is outside the project: nothing to ignore` }];
  }
  const changes: Change[] = [];
  const gitignore = path.join(projectDir, '.gitignore');
  const text = existsSync(gitignore) ? await fs.readFile(gitignore, 'utf8') : '';
  const lines = text.split(/\r?\n/);
  const ignoreLine = `${relative}/*`;
  const keepLine = `!${relative}/.gitkeep`;
  const dirLines = new Set([relative, `${relative}/`, `/${relative}`, `/${relative}/`]);
  const next = lines.map((line) => (dirLines.has(line.trim()) ? ignoreLine : line));
  const rewrote = next.some((line, i) => line !== lines[i]);
  const trimmed = next.map((l) => l.trim());
  const anchored = (line: string) => (line.startsWith('!') ? `!/${line.slice(1)}` : `/${line}`);
  const missing = [ignoreLine, keepLine].filter((line) => !trimmed.includes(line) && !trimmed.includes(anchored(line)));
  if (rewrote || missing.length > 0) {
    while (next.length > 0 && next.at(-1) === '') next.pop();
    if (missing.length > 0) next.push(...(next.length > 0 ? [''] : []), '# dbguard backups: never committed; the folder itself is kept', ...missing);
    await writeAtomic(gitignore, `${next.join('\n')}\n`);
    const what = [...(rewrote ? [`${relative}/ -> ${ignoreLine} (a parent folder ignored with / cannot re-include .gitkeep)`] : []), ...missing];
    changes.push({ file: '.gitignore', action: text === '' ? 'created' : 'updated', detail: what.join(', ') });
  }
  const gitkeep = path.join(backupsDir, '.gitkeep');
  if (!existsSync(gitkeep)) {
    await fs.mkdir(backupsDir, { recursive: true });
    await fs.writeFile(gitkeep, '');
    changes.push({ file: `${relative}/.gitkeep`, action: 'created', detail: 'keeps the backups folder in git (commit it)' });
  }
  return changes;
}

interface ClaudeHookEntry {
  matcher?: string;
  hooks?: Array<{ type?: string; command?: string }>;
}

/** Adds dbguard's PreToolUse hook for Bash to `.claude/settings.json`, keeping everything else there. */
export async function installClaudeHook(dir: string): Promise<Change[]> {
  const file = path.join(dir, '.claude', 'settings.json');
  const exists = existsSync(file);
  let settings: Record<string, unknown> = {};
  if (exists) {
    try {
      settings = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`${file} is not valid JSON (${(error as Error).message}); it was not changed.`, 'Fix it, then run `dbguard init --agent claude` again.');
    }
  }
  const hooks = (settings.hooks ?? {}) as Record<string, unknown>;
  const preToolUse = Array.isArray(hooks.PreToolUse) ? (hooks.PreToolUse as ClaudeHookEntry[]) : [];
  if (preToolUse.some((entry) => entry.hooks?.some((h) => h.command?.includes('dbguard guard hook claude')))) return [];
  preToolUse.push({ matcher: 'Bash', hooks: [{ type: 'command', command: CLAUDE_HOOK_COMMAND }] });
  settings.hooks = { ...hooks, PreToolUse: preToolUse };
  await writeAtomic(file, `${JSON.stringify(settings, null, 2)}\n`);
  return [{ file: '.claude/settings.json', action: exists ? 'updated' : 'created', detail: `PreToolUse hook for Bash: ${CLAUDE_HOOK_COMMAND}` }];
}
