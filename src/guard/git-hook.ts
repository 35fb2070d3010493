import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { type Change, writeAtomic } from './project-files.js';

const BEGIN = '# >>> dbguard >>>';
const END = '# <<< dbguard <<<';

export const GIT_HOOK_BLOCK = [
  BEGIN,
  '# Refuses a commit whose staged scripts, Makefiles, CI workflows or Dockerfiles run a command that can destroy data.',
  '# Override once: git commit --no-verify. Allow one line: put a `# dbguard:allow` comment on it.',
  'dbguard_bin="node_modules/.bin/dbguard"',
  '[ -x "$dbguard_bin" ] || dbguard_bin="npx --no-install dbguard"',
  '$dbguard_bin guard scan --staged || exit $?',
  END,
].join('\n');

/** The folder git runs hooks from (honours core.hooksPath). */
export function gitHooksDir(projectDir: string): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: projectDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  let top: string;
  try {
    top = git('rev-parse', '--show-toplevel');
  } catch {
    throw new UsageError(`${projectDir} is not in a git repository.`, 'Run `git init` first, or leave out --git-hook.');
  }
  let hooksPath = '';
  try {
    hooksPath = git('config', '--get', 'core.hooksPath');
  } catch {
    // not set
  }
  return hooksPath ? path.resolve(top, hooksPath) : path.resolve(projectDir, git('rev-parse', '--git-path', 'hooks'));
}

/** Installs dbguard's check at the top of the pre-commit hook, keeping what the hook already does. */
export async function installGitHook(projectDir: string): Promise<Change[]> {
  const file = path.join(gitHooksDir(projectDir), 'pre-commit');
  const shown = path.relative(projectDir, file) || file;
  if (!existsSync(file)) {
    await writeAtomic(file, `#!/bin/sh\n${GIT_HOOK_BLOCK}\n`, 0o755);
    return [{ file: shown, action: 'created', detail: 'pre-commit hook: dbguard guard scan --staged' }];
  }
  const text = await fs.readFile(file, 'utf8');
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  let next: string;
  if (start >= 0 && end > start) {
    next = `${text.slice(0, start)}${GIT_HOOK_BLOCK}${text.slice(end + END.length)}`;
  } else {
    const [first = '', ...rest] = text.split('\n');
    if (first.startsWith('#!') && !/\b(sh|bash|dash|zsh|ksh)\b/.test(first)) {
      throw new UsageError(
        `${file} is not a shell script (${first}); dbguard did not change it.`,
        'Make it also run `npx dbguard guard scan --staged` and stop the commit when that fails.',
      );
    }
    next = first.startsWith('#!') ? [first, GIT_HOOK_BLOCK, ...rest].join('\n') : `#!/bin/sh\n${GIT_HOOK_BLOCK}\n${text}`;
  }
  if (next === text) return [];
  await writeAtomic(file, next, 0o755);
  return [{ file: shown, action: 'updated', detail: 'added dbguard guard scan --staged before what the hook already does' }];
}
