import { type AgentHook, SILENT, json } from './agent-hook.js';
import { readPreToolUse } from './claude-hook.js';

/**
 * Codex CLI's PreToolUse hook (developers.openai.com/codex/hooks; `.codex/hooks.json`): the same event as Claude
 * Code's (`tool_name` `Bash`, `tool_input.command`, `cwd`). Codex honours `permissionDecision: "deny"` with a reason
 * and rejects `ask` as unsupported output (which would let the command run), so a schema change is denied too, with
 * `dbguard run -- <command>` as the way to go on: it takes the backup and then runs the command.
 */
export const codexHook: AgentHook = {
  agent: 'codex',
  title: 'Codex CLI',
  read: readPreToolUse,
  answer(verdict, text) {
    if (verdict === 'allow') return SILENT;
    return { exitCode: 0, stderr: '', stdout: json({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: text } }) };
  },
};
