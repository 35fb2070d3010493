import { type AgentHook, HookInputError, SILENT, json, objectField, optionalString, requiredString } from './agent-hook.js';

const SHELL_TOOLS = new Set(['bash', 'shell']);

/**
 * GitHub Copilot's `preToolUse` hook, for Copilot CLI and the Copilot coding agent (docs.github.com, "Hooks
 * configuration"; `.github/hooks/*.json`): the event carries `toolName` (`bash`), `toolArgs` (a JSON string or an
 * object with `command`) and `cwd`; the answer is `permissionDecision: "deny"` with `permissionDecisionReason`.
 * Copilot CLI also sends Claude-style events (`tool_name: "Bash"`, `tool_input`); both are read. A schema change
 * answers `ask`: Copilot CLI asks the person, and the cloud agent, which has no one to ask, treats `ask` as `deny`
 * (hooks reference). A command hook that crashes or exits non-zero denies the call: Copilot fails closed.
 */
export const copilotHook: AgentHook = {
  agent: 'copilot',
  title: 'GitHub Copilot',
  read(event) {
    const claudeStyle = event.toolName === undefined && event.tool_name !== undefined;
    const tool = requiredString(event, claudeStyle ? 'tool_name' : 'toolName');
    if (!SHELL_TOOLS.has(tool.toLowerCase())) return undefined;
    const args = objectField(event, claudeStyle ? 'tool_input' : 'toolArgs');
    const command = requiredString(args, 'command');
    if (command.trim() === '') throw new HookInputError('the command is empty');
    return { command, cwd: optionalString(event, 'cwd') };
  },
  answer(verdict, text) {
    if (verdict === 'allow') return SILENT;
    return { exitCode: 0, stderr: '', stdout: json({ permissionDecision: verdict === 'block' ? 'deny' : 'ask', permissionDecisionReason: text }) };
  },
};
