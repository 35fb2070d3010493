import { type AgentHook, HookInputError, SILENT, json, objectField, optionalString, requiredString } from './agent-hook.js';

/**
 * Claude Code's PreToolUse hook (documented at code.claude.com/docs/en/hooks): the event carries `tool_name`,
 * `tool_input.command` and `cwd`; the answer is `hookSpecificOutput.permissionDecision` `deny` (the reason is shown
 * to Claude) or `ask` (the question is put to the user). No answer leaves Claude's own permission rules in charge.
 */
export const claudeHook: AgentHook = {
  agent: 'claude',
  title: 'Claude Code',
  read: readPreToolUse,
  answer(verdict, text) {
    if (verdict === 'allow') return SILENT;
    const permissionDecision = verdict === 'block' ? 'deny' : 'ask';
    return { exitCode: 0, stderr: '', stdout: json({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision, permissionDecisionReason: text } }) };
  },
};

/** The PreToolUse event of Claude Code, also used by Codex CLI: the shell tool is `Bash`, its input `command`. */
export function readPreToolUse(event: Record<string, unknown>): { command: string; cwd: string | undefined } | undefined {
  const tool = requiredString(event, 'tool_name');
  const input = event.tool_input === undefined && tool !== 'Bash' ? {} : objectField(event, 'tool_input');
  if (tool !== 'Bash' && input.command === undefined) return undefined;
  const command = requiredString(input, 'command');
  if (command.trim() === '') throw new HookInputError('tool_input.command is empty');
  return { command, cwd: optionalString(event, 'cwd') };
}
