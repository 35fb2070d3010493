import { type AgentHook, HookInputError, json, optionalString, requiredString } from './agent-hook.js';

/**
 * Cursor's `beforeShellExecution` hook (cursor.com/docs/agent/hooks; `.cursor/hooks.json`): the event carries
 * `command` and `cwd`; the answer is `permission` `deny` or `ask` with `user_message` and `agent_message`.
 * `block` always answers `deny`: Cursor has been reported to run commands whose hook answered `ask` in its
 * auto-review mode. An allowed command gets `{}`, which leaves Cursor's own approval settings in charge.
 */
export const cursorHook: AgentHook = {
  agent: 'cursor',
  title: 'Cursor',
  read(event) {
    const name = optionalString(event, 'hook_event_name');
    if (name !== undefined && name !== 'beforeShellExecution') return undefined;
    const command = requiredString(event, 'command');
    if (command.trim() === '') throw new HookInputError('command is empty');
    return { command, cwd: optionalString(event, 'cwd') || firstRoot(event) };
  },
  answer(verdict, text) {
    if (verdict === 'allow') return { exitCode: 0, stderr: '', stdout: json({}) };
    const permission = verdict === 'block' ? 'deny' : 'ask';
    return { exitCode: 0, stderr: '', stdout: json({ permission, user_message: text, agent_message: text }) };
  },
};

function firstRoot(event: Record<string, unknown>): string | undefined {
  const roots = event.workspace_roots;
  return Array.isArray(roots) && typeof roots[0] === 'string' ? roots[0] : undefined;
}
