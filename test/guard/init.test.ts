import { existsSync, statSync } from 'node:fs';
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
    expect((statSync(path.join(dir, 'backups')).mode & 0o777).toString(8)).toBe('700');

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

    expect((await runCli(['init', '--agent', 'vim'], { cwd: dir })).code).toBe(2);
  });

  /** Each agent's settings file with a hook of the user's own, and where dbguard's entry must appear. */
  const AGENTS: Array<{ agent: string; file: string; existing: Record<string, unknown>; event: string; entry: (command: string) => unknown; local: string }> = [
    { agent: 'cursor', file: '.cursor/hooks.json', existing: { version: 1, hooks: { beforeShellExecution: [{ command: './audit.sh' }], afterFileEdit: [{ command: 'prettier' }] } }, event: 'beforeShellExecution', entry: (command) => ({ command }), local: './node_modules/.bin/dbguard guard hook cursor' },
    { agent: 'gemini', file: '.gemini/settings.json', existing: { theme: 'dark', hooks: { BeforeTool: [{ matcher: 'write_file', hooks: [{ type: 'command', command: './check.sh' }] }] } }, event: 'BeforeTool', entry: (command) => ({ matcher: 'run_shell_command', hooks: [{ type: 'command', name: 'dbguard', command, description: expect.any(String) }] }), local: '"$GEMINI_PROJECT_DIR"/node_modules/.bin/dbguard guard hook gemini' },
    { agent: 'codex', file: '.codex/hooks.json', existing: { hooks: { Stop: [{ hooks: [{ type: 'command', command: 'notify' }] }] } }, event: 'PreToolUse', entry: (command) => ({ matcher: 'Bash', hooks: [{ type: 'command', command }] }), local: 'npx dbguard guard hook codex' },
    { agent: 'copilot', file: '.github/hooks/dbguard.json', existing: { version: 1, hooks: { sessionStart: [{ type: 'command', bash: 'echo hi' }] } }, event: 'preToolUse', entry: (command) => ({ type: 'command', bash: command, cwd: '.', timeoutSec: 30 }), local: './node_modules/.bin/dbguard guard hook copilot' },
    { agent: 'windsurf', file: '.windsurf/hooks.json', existing: { hooks: { post_write_code: [{ command: 'lint', show_output: true }] } }, event: 'pre_run_command', entry: (command) => ({ command, show_output: true }), local: 'npx dbguard guard hook windsurf' },
  ];

  it.each(AGENTS)('--agent $agent adds its hook to $file in the documented format, keeping the user\'s settings, once', async (a) => {
    const dir = tempDir('dbguard-init-');
    await writeFile(path.join(dir, 'package.json'), '{"name":"app"}\n');
    const file = path.join(dir, a.file);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(a.existing));

    const first = await runCli(['init', '--agent', a.agent], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(a.file);
    const settings = await readJson(file);
    const hooks = a.existing.hooks as Record<string, unknown[]>;
    for (const [key, value] of Object.entries(a.existing)) if (key !== 'hooks') expect(settings[key]).toEqual(value);
    for (const [event, entries] of Object.entries(hooks)) if (event !== a.event) expect(settings.hooks[event]).toEqual(entries);
    expect(settings.hooks[a.event]).toEqual([...(hooks[a.event] ?? []), a.entry(`npx dbguard guard hook ${a.agent}`)]);

    expect((await runCli(['init', '--agent', a.agent], { cwd: dir })).stdout).toContain('nothing to change');
    expect((await readJson(file)).hooks[a.event]).toHaveLength((hooks[a.event]?.length ?? 0) + 1);
  });

  it('uses the project\'s own dbguard when it is installed there (no npx start-up per command)', async () => {
    const dir = tempDir('dbguard-init-');
    await writeFile(path.join(dir, 'package.json'), '{"name":"app"}\n');
    await mkdir(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    await writeFile(path.join(dir, 'node_modules', '.bin', 'dbguard'), '');
    expect((await runCli(['init', '--agent', 'claude'], { cwd: dir })).code).toBe(0);
    expect((await readJson(path.join(dir, '.claude', 'settings.json'))).hooks.PreToolUse[0].hooks[0].command).toBe('"$CLAUDE_PROJECT_DIR"/node_modules/.bin/dbguard guard hook claude');
    for (const a of AGENTS) {
      expect((await runCli(['init', '--agent', a.agent], { cwd: dir })).code).toBe(0);
      expect(JSON.stringify((await readJson(path.join(dir, a.file))).hooks[a.event])).toContain(JSON.stringify(a.local).slice(1, -1));
    }
  });

  it('--agent with a settings file that is not JSON changes nothing and says why', async () => {
    const dir = tempDir('dbguard-init-');
    await mkdir(path.join(dir, '.cursor'));
    await writeFile(path.join(dir, '.cursor', 'hooks.json'), '{ "version": 1, ');
    const result = await runCli(['init', '--agent', 'cursor'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/hooks.json is not valid JSON .* it was not changed/);
    expect(await readFile(path.join(dir, '.cursor', 'hooks.json'), 'utf8')).toBe('{ "version": 1, ');
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
