import { Command, CommanderError } from 'commander';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerGuard } from '../../src/cli/commands/guard.js';
import type { CliContext } from '../../src/cli/context.js';
import { DbguardError, UsageError } from '../../src/errors.js';
import { classifyCommand } from '../../src/guard/classify.js';
import { claudePreToolUse } from '../../src/guard/claude-hook.js';
import { runCli } from '../harness/cli.js';
import { makeProject } from './fixture.js';

const classify = (command: string, cwd: string) => classifyCommand(command, { cwd });

function event(fields: Record<string, unknown>): string {
  return JSON.stringify({ session_id: 's1', transcript_path: '/tmp/t.jsonl', hook_event_name: 'PreToolUse', permission_mode: 'default', ...fields });
}

/** Runs `dbguard guard ...` in-process, the way src/cli/main.ts does. */
async function runGuard(args: string[], options: { cwd: string; stdin?: string }): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ctx: CliContext = { cwd: options.cwd, env: {}, stdout, stderr, interactive: false };
  const program = new Command('dbguard').exitOverride().configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) });
  registerGuard(program, ctx, async () => options.stdin ?? '');
  let code = 0;
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (error instanceof DbguardError) {
      err += `error: ${error.message}\n`;
      code = error.exitCode;
    } else if (error instanceof CommanderError) {
      code = 2;
    } else {
      throw error;
    }
  }
  return { code, stdout: out, stderr: err };
}

describe('Claude Code hook adapter', () => {
  let project: Awaited<ReturnType<typeof makeProject>>;
  beforeAll(async () => {
    project = await makeProject();
  });
  afterAll(() => project.remove());

  it('denies a destructive command with the reasons and a safe alternative', async () => {
    const answer = await claudePreToolUse(event({ tool_name: 'Bash', tool_input: { command: 'npm run db:reset', description: 'reset' }, cwd: project.dir }), { cwd: '/', classify });
    expect(answer?.hookSpecificOutput.hookEventName).toBe('PreToolUse');
    expect(answer?.hookSpecificOutput.permissionDecision).toBe('deny');
    const reason = answer?.hookSpecificOutput.permissionDecisionReason ?? '';
    expect(reason).toContain('npm run db:reset -> prisma migrate reset --force');
    expect(reason).toContain('npx dbguard backup');
    expect(reason).toContain('npx dbguard run -- npm run db:reset');
    expect(reason).toMatch(/environment variable .* is not approval/);
  });

  it('asks, with guidance to use dbguard run, for a schema change', async () => {
    const answer = await claudePreToolUse(event({ tool_name: 'Bash', tool_input: { command: 'npx prisma migrate dev' }, cwd: project.dir }), { cwd: '/', classify });
    expect(answer?.hookSpecificOutput.permissionDecision).toBe('ask');
    expect(answer?.hookSpecificOutput.permissionDecisionReason).toContain('npx dbguard run -- npx prisma migrate dev');
  });

  it('says nothing for harmless commands and for other tools', async () => {
    expect(await claudePreToolUse(event({ tool_name: 'Bash', tool_input: { command: 'git commit -m "prisma migrate reset"' }, cwd: project.dir }), { cwd: '/', classify })).toBeUndefined();
    expect(await claudePreToolUse(event({ tool_name: 'Write', tool_input: { file_path: '/x.sql', content: 'DROP TABLE users;' } }), { cwd: '/', classify })).toBeUndefined();
  });

  it('does not take an environment variable or the agent\'s own --approve as consent', async () => {
    for (const command of ['PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION=yes npx prisma migrate reset --force', 'npx dbguard run --approve "ok" -- npx prisma migrate reset --force']) {
      const answer = await claudePreToolUse(event({ tool_name: 'Bash', tool_input: { command }, cwd: project.dir }), { cwd: '/', classify });
      expect(answer?.hookSpecificOutput.permissionDecision).toBe('deny');
    }
  });

  it('rejects malformed input with a usage error instead of crashing', async () => {
    await expect(claudePreToolUse('not json', { cwd: '/', classify })).rejects.toBeInstanceOf(UsageError);
    await expect(claudePreToolUse('{"tool_input":{}}', { cwd: '/', classify })).rejects.toBeInstanceOf(UsageError);
    await expect(claudePreToolUse(event({ tool_name: 'Bash', tool_input: {} }), { cwd: '/', classify })).rejects.toBeInstanceOf(UsageError);
  });

  it('denies when the classifier itself fails', async () => {
    const answer = await claudePreToolUse(event({ tool_name: 'Bash', tool_input: { command: 'ls' } }), {
      cwd: '/',
      classify: async () => {
        throw new Error('boom');
      },
    });
    expect(answer?.hookSpecificOutput.permissionDecision).toBe('deny');
  });

  describe('dbguard guard (in process)', () => {
    it('check --json prints exactly one JSON object and exits 3 for block', async () => {
      const result = await runGuard(['guard', 'check', '--json', '--', 'npm run db:reset'], { cwd: project.dir });
      expect(result.code).toBe(3);
      expect(JSON.parse(result.stdout)).toEqual({
        verdict: 'block',
        reasons: [{ rule: 'prisma-migrate-reset', command: 'npm run db:reset -> prisma migrate reset --force', message: expect.any(String) }],
      });
    });

    it('check joins several words into one line, honours --cwd, and exits 0 for backup and allow', async () => {
      const backup = await runGuard(['guard', 'check', '--cwd', 'packages/api', '--json', '--', 'yarn', 'db:up'], { cwd: project.dir });
      expect(backup.code).toBe(0);
      expect(JSON.parse(backup.stdout).verdict).toBe('backup');
      const human = await runGuard(['guard', 'check', '--', 'npx', 'prisma', 'migrate', 'dev'], { cwd: project.dir });
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/^backup: /);
      const allow = await runGuard(['guard', 'check', '--', 'ls -la'], { cwd: project.dir });
      expect(allow).toMatchObject({ code: 0, stdout: expect.stringMatching(/^allow: /) });
    });

    it('hook claude answers on stdout in Claude Code\'s format', async () => {
      const result = await runGuard(['guard', 'hook', 'claude'], { cwd: '/', stdin: event({ tool_name: 'Bash', tool_input: { command: 'npx prisma db push --force-reset' }, cwd: project.dir }) });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny' } });
      const allowed = await runGuard(['guard', 'hook', 'claude'], { cwd: '/', stdin: event({ tool_name: 'Bash', tool_input: { command: 'npx prisma generate' } }) });
      expect(allowed).toEqual({ code: 0, stdout: '', stderr: '' });
      const broken = await runGuard(['guard', 'hook', 'claude'], { cwd: '/', stdin: '{"tool_name": ' });
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/not JSON/);
    });
  });

  // `npm test` builds dist/ first; without a build this fails rather than skipping.
  it('the built CLI answers a hook event piped on stdin', async () => {
    const input = event({ tool_name: 'Bash', tool_input: { command: 'sh -c "npx prisma migrate reset --force"' }, cwd: project.dir });
    const result = await runCli(['guard', 'hook', 'claude'], { cwd: project.dir, input });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).hookSpecificOutput.permissionDecision).toBe('deny');
    const check = await runCli(['guard', 'check', '--json', '--', 'npm run db:fresh'], { cwd: project.dir });
    expect(check.code).toBe(3);
    expect(JSON.parse(check.stdout).reasons[0].command).toBe('npm run db:fresh -> npm run db:reset -> prisma migrate reset --force');
  });
});
