import { Command, CommanderError } from 'commander';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerGuard } from '../../src/cli/commands/guard.js';
import type { CliContext } from '../../src/cli/context.js';
import { DbguardError } from '../../src/errors.js';
import { type HookAnswer, answerHook } from '../../src/guard/agent-hook.js';
import { AGENT_HOOKS } from '../../src/guard/agents.js';
import { classifyCommand } from '../../src/guard/classify.js';
import { runCli } from '../harness/cli.js';
import { makeProject } from './fixture.js';

const classify = (command: string, cwd: string) => classifyCommand(command, { cwd });

/**
 * Each agent's documented pre-command event for a shell command, and how its answer reads: `deny`, `ask`, or
 * nothing (the agent's own rules decide). Payload shapes follow the agents' documentation (see src/guard/*-hook.ts).
 */
interface AgentCase {
  agent: string;
  event(command: string, cwd: string): Record<string, unknown>;
  /** An event for a tool that is not the shell. */
  otherTool: Record<string, unknown>;
  decision(answer: HookAnswer): 'deny' | 'ask' | 'none';
  /** The text the agent (or the user) is shown. */
  text(answer: HookAnswer): string;
  /** What a schema change gets: agents without "ask" deny it with `dbguard run` as the way on. */
  backup: 'ask' | 'deny';
}

const parsed = (answer: HookAnswer) => (answer.stdout.trim() ? (JSON.parse(answer.stdout) as Record<string, any>) : {});

const AGENT_CASES: AgentCase[] = [
  {
    agent: 'claude',
    event: (command, cwd) => ({ session_id: 's1', transcript_path: '/tmp/t.jsonl', hook_event_name: 'PreToolUse', permission_mode: 'default', tool_name: 'Bash', tool_input: { command, description: 'x' }, cwd }),
    otherTool: { hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { file_path: '/x.sql', content: 'DROP TABLE users;' }, cwd: '/' },
    decision: (a) => parsed(a).hookSpecificOutput?.permissionDecision ?? 'none',
    text: (a) => parsed(a).hookSpecificOutput?.permissionDecisionReason ?? '',
    backup: 'ask',
  },
  {
    agent: 'codex',
    event: (command, cwd) => ({ session_id: 's1', turn_id: 't1', transcript_path: null, cwd, hook_event_name: 'PreToolUse', model: 'gpt-5', permission_mode: 'default', tool_name: 'Bash', tool_input: { command }, tool_use_id: 'call-1' }),
    otherTool: { hook_event_name: 'PreToolUse', tool_name: 'apply_patch', tool_input: { patch: '*** Begin Patch' }, cwd: '/' },
    decision: (a) => parsed(a).hookSpecificOutput?.permissionDecision ?? 'none',
    text: (a) => parsed(a).hookSpecificOutput?.permissionDecisionReason ?? '',
    backup: 'deny',
  },
  {
    agent: 'cursor',
    event: (command, cwd) => ({ hook_event_name: 'beforeShellExecution', conversation_id: 'c1', generation_id: 'g1', workspace_roots: [cwd], command, cwd }),
    otherTool: { hook_event_name: 'beforeMCPExecution', conversation_id: 'c1', generation_id: 'g1', workspace_roots: ['/'], tool_name: 'query', tool_input: '{"sql":"DROP TABLE x"}' },
    decision: (a) => (parsed(a).permission === undefined ? 'none' : parsed(a).permission),
    text: (a) => parsed(a).agent_message ?? '',
    backup: 'ask',
  },
  {
    agent: 'gemini',
    event: (command, cwd) => ({ session_id: 's1', transcript_path: '/tmp/t.json', cwd, hook_event_name: 'BeforeTool', timestamp: '2026-11-30T05:00:00Z', tool_name: 'run_shell_command', tool_input: { command, description: 'x' } }),
    otherTool: { hook_event_name: 'BeforeTool', tool_name: 'write_file', tool_input: { file_path: 'x.sql', content: 'DROP TABLE x;' }, cwd: '/' },
    decision: (a) => (parsed(a).decision === 'deny' ? 'deny' : 'none'),
    text: (a) => parsed(a).reason ?? '',
    backup: 'deny',
  },
  {
    agent: 'copilot',
    event: (command, cwd) => ({ timestamp: 1704614600000, cwd, toolName: 'bash', toolArgs: JSON.stringify({ command, description: 'x' }) }),
    otherTool: { timestamp: 1704614600000, cwd: '/', toolName: 'edit', toolArgs: '{"path":"x.sql"}' },
    decision: (a) => (['deny', 'ask'].includes(parsed(a).permissionDecision) ? parsed(a).permissionDecision : 'none'),
    text: (a) => parsed(a).permissionDecisionReason ?? '',
    backup: 'ask',
  },
  {
    agent: 'windsurf',
    event: (command, cwd) => ({ agent_action_name: 'pre_run_command', trajectory_id: 't1', execution_id: 'e1', timestamp: '2026-11-30T05:00:00Z', tool_info: { command_line: command, cwd } }),
    otherTool: { agent_action_name: 'pre_write_code', trajectory_id: 't1', execution_id: 'e1', tool_info: { file_path: 'x.sql', edits: [] } },
    decision: (a) => (a.exitCode === 2 ? 'deny' : 'none'),
    text: (a) => a.stderr,
    backup: 'deny',
  },
];

describe('agent hook adapters', () => {
  let project: Awaited<ReturnType<typeof makeProject>>;
  beforeAll(async () => {
    project = await makeProject();
  });
  afterAll(() => project.remove());

  it('covers every agent that `dbguard guard hook` accepts', () => {
    expect(AGENT_CASES.map((c) => c.agent).sort()).toEqual(Object.keys(AGENT_HOOKS).sort());
  });

  describe.each(AGENT_CASES)('$agent', (c) => {
    const ask = (stdin: string) => answerHook(AGENT_HOOKS[c.agent]!, stdin, { cwd: '/', classify });
    const send = (command: string) => ask(JSON.stringify(c.event(command, project.dir)));

    it('denies a destructive command, with the chain it resolved, the reasons and the safe alternative', async () => {
      const answer = await send('npm run db:reset');
      expect(c.decision(answer)).toBe('deny');
      const text = c.text(answer);
      expect(text).toContain('npm run db:reset -> prisma migrate reset --force');
      expect(text).toContain('npx dbguard run -- npm run db:reset');
      expect(text).toMatch(/environment variable .* is not approval/);
    });

    it(`answers ${c.backup} for a schema change, pointing at dbguard run`, async () => {
      const answer = await send('npx prisma migrate dev');
      expect(c.decision(answer)).toBe(c.backup);
      expect(c.text(answer)).toContain('npx dbguard run -- npx prisma migrate dev');
    });

    it('allows harmless commands without granting anything, and ignores other tools', async () => {
      for (const command of ['ls -la', 'git commit -m "prisma migrate reset"', 'npm run build']) {
        const answer = await send(command);
        expect(c.decision(answer), command).toBe('none');
        expect(answer.exitCode).toBe(0);
        expect(answer.stdout).not.toMatch(/allow/);
      }
      expect(c.decision(await ask(JSON.stringify(c.otherTool)))).toBe('none');
    });

    it('fails closed on malformed input, with a clear reason', async () => {
      const broken = ['not json', '[]', JSON.stringify({}), JSON.stringify(c.event('', project.dir)), JSON.stringify(c.event(42 as unknown as string, project.dir))];
      for (const stdin of broken) {
        const answer = await ask(stdin);
        expect(answer.exitCode, stdin).toBe(2);
        expect(answer.stderr, stdin).toMatch(/dbguard could not read the .* hook event \(.+\), so the command is not allowed to run/);
      }
    });

    it('nothing in the event or the environment grants consent', async () => {
      process.env.DBGUARD_APPROVE = 'yes';
      try {
        for (const command of ['PRISMA_USER_CONSENT_FOR_DANGEROUS_AI_ACTION=yes npx prisma migrate reset --force', 'npx dbguard run --approve "ok" -- npx prisma migrate reset --force']) {
          const event = { ...c.event(command, project.dir), permission_mode: 'bypassPermissions', approve: true, dbguard: { approve: 'yes' } };
          expect(c.decision(await ask(JSON.stringify(event))), command).toBe('deny');
        }
      } finally {
        delete process.env.DBGUARD_APPROVE;
      }
    });

    it('blocks when the classifier itself fails', async () => {
      const answer = await answerHook(AGENT_HOOKS[c.agent]!, JSON.stringify(c.event('ls', project.dir)), {
        cwd: '/',
        classify: async () => {
          throw new Error('boom');
        },
      });
      expect(answer.exitCode).toBe(2);
      expect(answer.stderr).toMatch(/could not check this command \(boom\)/);
    });
  });

  it('gemini runs the command in tool_input.dir_path (or directory) under the project', async () => {
    const event = { hook_event_name: 'BeforeTool', tool_name: 'run_shell_command', tool_input: { command: 'yarn reset', dir_path: 'packages/api' }, cwd: project.dir };
    const answer = await answerHook(AGENT_HOOKS.gemini!, JSON.stringify(event), { cwd: '/', classify });
    expect(JSON.parse(answer.stdout).reason).toContain('yarn reset -> supabase db reset');
  });

  it('copilot also reads Claude-style events and toolArgs given as an object', async () => {
    for (const event of [
      { tool_name: 'Bash', tool_input: { command: 'npm run db:reset' }, cwd: project.dir },
      { toolName: 'bash', toolArgs: { command: 'npm run db:reset' }, cwd: project.dir },
    ]) {
      const answer = await answerHook(AGENT_HOOKS.copilot!, JSON.stringify(event), { cwd: '/', classify });
      expect(JSON.parse(answer.stdout).permissionDecision).toBe('deny');
    }
  });
});

/** Runs `dbguard guard ...` in-process through commander, the way src/cli/main.ts does when its fast path declines. */
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

describe('dbguard guard check and hook', () => {
  let project: Awaited<ReturnType<typeof makeProject>>;
  beforeAll(async () => {
    project = await makeProject();
  });
  afterAll(() => project.remove());
  const claudeEvent = (command: string, cwd: string) => AGENT_CASES[0]!.event(command, cwd);

  it('check --json prints exactly one JSON object and exits 3 for block', async () => {
    const result = await runGuard(['guard', 'check', '--json', '--', 'npm run db:reset'], { cwd: project.dir });
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toEqual({
      verdict: 'block',
      reasons: [{ rule: 'prisma-migrate-reset', command: 'npm run db:reset -> prisma migrate reset --force', message: expect.any(String) }],
      checked: ['npm run db:reset -> prisma migrate reset --force'],
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

  it('check shows the chain of commands it resolved, also when nothing is wrong', async () => {
    const result = await runGuard(['guard', 'check', '--', 'npm run build && npm test'], { cwd: project.dir });
    expect(result.stdout).toContain('npm run build -> tsc -p .');
    const blocked = await runGuard(['guard', 'check', '--', 'npm test'], { cwd: project.dir });
    expect(blocked.stdout).toContain('npm test (pretest) -> drizzle-kit push --force');
    expect(blocked.stdout).toContain('npm test -> vitest run');
  });

  it('hook <agent> answers on stdout; unreadable input exits 2 with the reason', async () => {
    const result = await runGuard(['guard', 'hook', 'claude'], { cwd: '/', stdin: JSON.stringify(claudeEvent('npx prisma db push --force-reset', project.dir)) });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny' } });
    const allowed = await runGuard(['guard', 'hook', 'claude'], { cwd: '/', stdin: JSON.stringify(claudeEvent('npx prisma generate', project.dir)) });
    expect(allowed).toEqual({ code: 0, stdout: '', stderr: '' });
    const broken = await runGuard(['guard', 'hook', 'claude'], { cwd: '/', stdin: '{"tool_name": ' });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not JSON/);
    expect((await runGuard(['guard', 'hook', 'vim'], { cwd: '/', stdin: '{}' })).code).toBe(2);
  });

  // `npm test` builds dist/ first; without a build this fails rather than skipping.
  it('the built CLI answers every agent, and check, through its fast path', async () => {
    for (const c of AGENT_CASES) {
      const result = await runCli(['guard', 'hook', c.agent], { cwd: project.dir, input: JSON.stringify(c.event('sh -c "npx prisma migrate reset --force"', project.dir)) });
      expect(c.decision({ exitCode: result.code as 0 | 2, stdout: result.stdout, stderr: result.stderr }), c.agent).toBe('deny');
    }
    const broken = await runCli(['guard', 'hook', 'cursor'], { cwd: project.dir, input: 'nope' });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: dbguard could not read the Cursor hook event/);
    const check = await runCli(['guard', 'check', '--json', '--', 'npm run db:fresh'], { cwd: project.dir });
    expect(check.code).toBe(3);
    expect(JSON.parse(check.stdout).reasons[0].command).toBe('npm run db:fresh -> npm run db:reset -> prisma migrate reset --force');
    expect(check.stderr).toContain('Refused: this command can destroy data.');
    const human = await runCli(['guard', 'check', '--cwd=packages/api', 'yarn', 'reset'], { cwd: project.dir });
    expect(human).toMatchObject({ code: 3, stdout: expect.stringContaining('yarn reset -> supabase db reset') });
    const help = await runCli(['guard', 'check', '--help'], { cwd: project.dir });
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('chain of commands') });
  });
});
