import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { Classification } from './types.js';

/** The part of a Claude Code PreToolUse event the guard reads. */
const preToolUseEvent = z.object({
  tool_name: z.string(),
  tool_input: z.record(z.string(), z.unknown()).optional(),
  cwd: z.string().optional(),
});

/** Claude Code's answer format: `deny` is shown to the agent, `ask` puts the question to the user. */
export interface ClaudeHookOutput {
  hookSpecificOutput: {
    hookEventName: 'PreToolUse';
    permissionDecision: 'deny' | 'ask';
    permissionDecisionReason: string;
  };
}

export type Classify = (command: string, cwd: string) => Promise<Classification>;

/**
 * Answers one PreToolUse event: nothing for commands that are allowed and for tools other than Bash, `ask` for
 * schema changes, `deny` for what can destroy data. The event's fields never grant approval.
 */
export async function claudePreToolUse(stdin: string, options: { cwd: string; classify: Classify }): Promise<ClaudeHookOutput | undefined> {
  const event = parseEvent(stdin);
  if (event.tool_name !== 'Bash') return undefined;
  const command = event.tool_input?.command;
  if (typeof command !== 'string') throw new UsageError('The Bash tool event has no tool_input.command string.');
  let classification: Classification;
  try {
    classification = await options.classify(command, event.cwd ?? options.cwd);
  } catch (error) {
    return decision('deny', `dbguard could not check this command (${error instanceof Error ? error.message : String(error)}), so it is not allowed to run. Ask the user to run it themselves.`);
  }
  return claudeHookAnswer(command, classification);
}

export function claudeHookAnswer(command: string, { verdict, reasons }: Classification): ClaudeHookOutput | undefined {
  const listed = reasons.map((r) => `- ${r.command}: ${r.message} [${r.rule}]`).join('\n');
  if (verdict === 'block') {
    return decision(
      'deny',
      [
        'dbguard blocked this command because it can destroy database data:',
        listed,
        'Do not retry it in another form. Safe alternative: take a backup with `npx dbguard backup`, then ask the user to run',
        `\`npx dbguard run -- ${command}\` in their own terminal; it backs up first and needs their approval there.`,
        'Setting an environment variable or passing --approve yourself is not approval.',
      ].join('\n'),
    );
  }
  if (verdict === 'backup') {
    return decision(
      'ask',
      [`dbguard: this command changes the database schema:`, listed, `Run it as \`npx dbguard run -- ${command}\` so a backup is taken first.`].join('\n'),
    );
  }
  return undefined;
}

function parseEvent(stdin: string): z.infer<typeof preToolUseEvent> {
  let json: unknown;
  try {
    json = JSON.parse(stdin);
  } catch {
    throw new UsageError('The hook input is not JSON.', 'dbguard guard hook claude reads a Claude Code PreToolUse event on stdin.');
  }
  const parsed = preToolUseEvent.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`The hook input is not a PreToolUse event: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}.`);
  }
  return parsed.data;
}

function decision(permissionDecision: 'deny' | 'ask', permissionDecisionReason: string): ClaudeHookOutput {
  return { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision, permissionDecisionReason } };
}
