import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.js';
import { tempDir } from '../harness/tmp.js';

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

describe('dbguard init', () => {
  it('adds scripts, ignores backups, keeps the user\'s own script, and changes nothing the second time', async () => {
    const dir = tempDir('dbguard-init-');
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', scripts: { 'db:backup': 'pg_dump app > app.sql', build: 'tsc' } }, null, 4));
    await writeFile(path.join(dir, '.gitignore'), 'node_modules\nbackups/\n');

    const first = await runCli(['init'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('kept your script db:backup ("pg_dump app > app.sql")');
    expect(first.stdout).toContain('added script db:restore: dbguard restore');
    const pkg = await readJson(path.join(dir, 'package.json'));
    expect(pkg.scripts).toEqual({
      'db:backup': 'pg_dump app > app.sql',
      build: 'tsc',
      'db:restore': 'dbguard restore',
      'db:backups': 'dbguard list',
      'migrate:safe': 'dbguard migrate --name',
    });
    expect(await readFile(path.join(dir, 'package.json'), 'utf8')).toContain('\n    "name"');
    const gitignore = await readFile(path.join(dir, '.gitignore'), 'utf8');
    expect(gitignore.split('\n')).toEqual(expect.arrayContaining(['node_modules', 'backups/*', '!backups/.gitkeep']));
    expect(gitignore.split('\n')).not.toContain('backups/');
    expect(existsSync(path.join(dir, 'backups', '.gitkeep'))).toBe(true);

    const before = await Promise.all(['package.json', '.gitignore'].map((f) => readFile(path.join(dir, f), 'utf8')));
    const second = await runCli(['init'], { cwd: dir });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('nothing to change');
    expect(second.stdout).not.toMatch(/^(created|updated)/m);
    expect(await Promise.all(['package.json', '.gitignore'].map((f) => readFile(path.join(dir, f), 'utf8')))).toEqual(before);
  });

  it('--agent claude merges the PreToolUse hook into existing settings, once', async () => {
    const dir = tempDir('dbguard-init-');
    await writeFile(path.join(dir, 'package.json'), '{"name":"app"}\n');
    await mkdir(path.join(dir, '.claude'));
    const existing = {
      permissions: { allow: ['Bash(npm test)'] },
      hooks: {
        PreToolUse: [{ matcher: 'Edit', hooks: [{ type: 'command', command: 'echo edit' }] }],
        PostToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'echo done' }] }],
      },
    };
    await writeFile(path.join(dir, '.claude', 'settings.json'), JSON.stringify(existing));

    const first = await runCli(['init', '--agent', 'claude'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('.claude/settings.json');
    const settings = await readJson(path.join(dir, '.claude', 'settings.json'));
    expect(settings.permissions).toEqual(existing.permissions);
    expect(settings.hooks.PostToolUse).toEqual(existing.hooks.PostToolUse);
    expect(settings.hooks.PreToolUse).toEqual([
      existing.hooks.PreToolUse[0],
      { matcher: 'Bash', hooks: [{ type: 'command', command: 'npx dbguard guard hook claude' }] },
    ]);

    const second = await runCli(['init', '--agent', 'claude'], { cwd: dir });
    expect(second.stdout).toContain('nothing to change');
    expect((await readJson(path.join(dir, '.claude', 'settings.json'))).hooks.PreToolUse).toHaveLength(2);

    expect((await runCli(['init', '--agent', 'cursor'], { cwd: dir })).code).toBe(2);
  });

  it('--shims merges the postinstall script with an existing one', async () => {
    const dir = tempDir('dbguard-init-');
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', scripts: { postinstall: 'patch-package' } }));
    expect((await runCli(['init', '--shims'], { cwd: dir })).code).toBe(0);
    expect((await readJson(path.join(dir, 'package.json'))).scripts.postinstall).toBe('patch-package && dbguard guard shims');
    expect((await runCli(['init', '--shims'], { cwd: dir })).stdout).toContain('nothing to change');
    expect((await readJson(path.join(dir, 'package.json'))).scripts.postinstall).toBe('patch-package && dbguard guard shims');
  });
});
