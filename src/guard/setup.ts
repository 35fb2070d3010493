import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { HOOK_SETTINGS } from './agents.js';
import { type Change, readPackageJson, writeAtomic, writePackageJson } from './project-files.js';

/** The npm scripts `dbguard init` adds; a user's own script of the same name is kept. */
export const NPM_SCRIPTS: Readonly<Record<string, string>> = {
  'db:backup': 'dbguard backup',
  'db:restore': 'dbguard restore',
  'db:backups': 'dbguard list',
  'migrate:safe': 'dbguard migrate --name',
};

export async function addNpmScripts(dir: string): Promise<Change[]> {
  const pkg = await readPackageJson(dir);
  if (!pkg) return [{ file: 'package.json', action: 'skipped', detail: 'there is none here, so no npm scripts were added (run `npm init`, then `dbguard init` again)' }];
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
    await fs.mkdir(backupsDir, { recursive: true, mode: 0o700 });
    await fs.writeFile(gitkeep, '');
    changes.push({ file: `${relative}/.gitkeep`, action: 'created', detail: 'keeps the backups folder in git (commit it)' });
  }
  return changes;
}

/** The command an agent's hook runs: the project's own dbguard when it is installed there, else `npx dbguard`. */
export function hookCommand(dir: string, agent: string): string {
  const projectDir = HOOK_SETTINGS[agent]?.projectDir;
  const local = projectDir !== undefined && existsSync(path.join(dir, 'node_modules', '.bin', 'dbguard'));
  return `${local ? `${projectDir}/node_modules/.bin/dbguard` : 'npx dbguard'} guard hook ${agent}`;
}

/** Adds dbguard's hook for an AI coding agent to the agent's settings file, keeping everything else there. */
export async function installAgentHook(dir: string, agent: string): Promise<Change[]> {
  const settingsFormat = HOOK_SETTINGS[agent];
  if (!settingsFormat) throw new UsageError(`Unknown agent "${agent}".`, `Supported: ${Object.keys(HOOK_SETTINGS).join(', ')}.`);
  const { file: relative, event, version, entry } = settingsFormat;
  const file = path.join(dir, relative);
  const exists = existsSync(file);
  let settings: Record<string, unknown> = {};
  if (exists) {
    try {
      settings = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`${file} is not valid JSON (${(error as Error).message}); it was not changed.`, `Fix it, then run \`dbguard init --agent ${agent}\` again.`);
    }
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw new UsageError(`${file} does not hold a JSON object; it was not changed.`);
  }
  const hooks = settings.hooks !== null && typeof settings.hooks === 'object' && !Array.isArray(settings.hooks) ? (settings.hooks as Record<string, unknown>) : {};
  const entries = Array.isArray(hooks[event]) ? (hooks[event] as unknown[]) : [];
  if (entries.some((e) => JSON.stringify(e).includes(`dbguard guard hook ${agent}`))) return [];
  const command = hookCommand(dir, agent);
  entries.push(entry(command));
  settings = { ...(version !== undefined && settings.version === undefined ? { version } : {}), ...settings, hooks: { ...hooks, [event]: entries } };
  await writeAtomic(file, `${JSON.stringify(settings, null, 2)}\n`);
  const note = command.startsWith('npx') ? ' (install dbguard in this project for a hook without npx start-up time)' : '';
  return [{ file: relative, action: exists ? 'updated' : 'created', detail: `${event} hook: ${command}${note}` }];
}
