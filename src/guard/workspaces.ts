import { createRequire } from 'node:module';
import path from 'node:path';
import type { ReadFile } from './types.js';

/*
 * Workspace selectors (`pnpm --filter api`, `pnpm -r`, `npm -w packages/api`, `yarn workspace api`,
 * `bun --filter 'api*'`) run scripts of the selected packages, not of the root: the guard reads the same
 * workspace lists the package managers read (package.json `workspaces`, pnpm-workspace.yaml `packages`).
 * The glob and YAML libraries load only for a command with a selector.
 */

export interface Workspace {
  dir: string;
  name: string | undefined;
}

export type WorkspaceFormat = 'npm' | 'pnpm';

const requireModule = createRequire(import.meta.url);

function readJson(file: string, readFile: ReadFile): Record<string, unknown> | undefined {
  const text = readFile(file);
  if (text === undefined) return undefined;
  try {
    const data = JSON.parse(text) as unknown;
    return data && typeof data === 'object' ? (data as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The patterns of the workspace root above `cwd` (npm, yarn and bun: package.json `workspaces`; pnpm: pnpm-workspace.yaml). */
function findRoot(cwd: string, format: WorkspaceFormat, readFile: ReadFile): { root: string; patterns: string[] } | undefined {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const patterns = format === 'pnpm' ? pnpmPatterns(dir, readFile) : npmPatterns(dir, readFile);
    if (patterns) return { root: dir, patterns };
    if (path.dirname(dir) === dir) return undefined;
  }
}

function npmPatterns(dir: string, readFile: ReadFile): string[] | undefined {
  const workspaces = readJson(path.join(dir, 'package.json'), readFile)?.workspaces;
  const list = Array.isArray(workspaces) ? workspaces : (workspaces as { packages?: unknown } | undefined)?.packages;
  return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string') : undefined;
}

function pnpmPatterns(dir: string, readFile: ReadFile): string[] | undefined {
  const text = readFile(path.join(dir, 'pnpm-workspace.yaml')) ?? readFile(path.join(dir, 'pnpm-workspace.yml'));
  if (text === undefined) return undefined;
  try {
    const { parse } = requireModule('yaml') as typeof import('yaml');
    const packages = (parse(text) as { packages?: unknown } | null)?.packages;
    return Array.isArray(packages) ? packages.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

/** Every package of the workspace that `cwd` belongs to, the root first; undefined outside a workspace. */
export function listWorkspaces(cwd: string, format: WorkspaceFormat, readFile: ReadFile): Workspace[] | undefined {
  const found = findRoot(cwd, format, readFile);
  if (!found) return undefined;
  const { globSync } = requireModule('tinyglobby') as typeof import('tinyglobby');
  const include = found.patterns.filter((p) => !p.startsWith('!')).map((p) => p.replace(/^\.\//, '').replace(/\/+$/, '') || '.');
  const ignore = ['**/node_modules/**', ...found.patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1).replace(/^\.\//, ''))];
  const dirs = include.length === 0 ? [] : globSync(include, { cwd: found.root, onlyDirectories: true, ignore, expandDirectories: false, dot: false });
  const workspaces: Workspace[] = [{ dir: found.root, name: packageName(found.root, readFile) }];
  for (const dir of new Set(dirs.map((d) => path.resolve(found.root, d)))) {
    if (dir === found.root) continue;
    const data = readJson(path.join(dir, 'package.json'), readFile);
    if (data) workspaces.push({ dir, name: typeof data.name === 'string' ? data.name : undefined });
  }
  return workspaces;
}

function packageName(dir: string, readFile: ReadFile): string | undefined {
  const name = readJson(path.join(dir, 'package.json'), readFile)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** `*` in a package name pattern (`@app/*`, `*-api`) stands for any characters. */
function namePattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

function pathPattern(pattern: string, cwd: string): (dir: string) => boolean {
  const absolute = path.resolve(cwd, pattern.replace(/^\{|\}$/g, ''));
  const re = new RegExp(`^${absolute.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '.*')}(/.*)?$`);
  return (dir) => re.test(dir);
}

/**
 * The packages a list of selectors picks: package names (with `*`), paths (`./packages/api`, `{apps/web}`, a folder
 * that holds workspaces), `!` exclusions. Selectors whose meaning depends on the dependency graph or on git
 * (`api...`, `...api`, `[origin/main]`) pick every package: a guard may check more packages, never fewer.
 */
export function selectWorkspaces(all: Workspace[], selectors: string[], cwd: string): Workspace[] {
  const include = selectors.filter((s) => !s.startsWith('!'));
  const exclude = selectors.filter((s) => s.startsWith('!')).map((s) => s.slice(1));
  const graph = (selector: string) => /\.\.\.|\[|\^/.test(selector);
  // A word may be a name or a folder (`npm -w packages/api`, `npm -w packages`): both are tried.
  const matches = (selector: string, ws: Workspace): boolean =>
    graph(selector) || (ws.name !== undefined && namePattern(selector.replace(/^\{|\}$/g, '')).test(ws.name)) || pathPattern(selector, cwd)(ws.dir);
  return all.filter((ws) => (include.length === 0 || include.some((s) => matches(s, ws))) && !exclude.some((s) => !graph(s) && matches(s, ws)));
}
