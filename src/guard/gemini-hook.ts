import path from 'node:path';
import { type AgentHook, HookInputError, json, objectField, optionalString, requiredString } from './agent-hook.js';

/** Gemini CLI's shell tool. */
export const GEMINI_SHELL_TOOL = 'run_shell_command';

/**
 * Gemini CLI's `BeforeTool` hook (geminicli.com/docs/hooks/reference; `.gemini/settings.json`): the event carries
 * `tool_name`, `tool_input.command` (and `dir_path`, formerly `directory`, relative to the project) and `cwd`; the
 * answer is `decision: "deny"` with a `reason` sent to the model. BeforeTool has no "ask", so a schema change is
 * denied too, with `dbguard run -- <command>` as the way to go on: it takes the backup and then runs the command.
 */
export const geminiHook: AgentHook = {
  agent: 'gemini',
  title: 'Gemini CLI',
  read(event) {
    if (requiredString(event, 'tool_name') !== GEMINI_SHELL_TOOL) return undefined;
    const input = objectField(event, 'tool_input');
    const command = requiredString(input, 'command');
    if (command.trim() === '') throw new HookInputError('tool_input.command is empty');
    const root = optionalString(event, 'cwd');
    const dir = optionalString(input, 'dir_path') ?? optionalString(input, 'directory');
    return { command, cwd: root !== undefined && dir ? path.resolve(root, dir) : root };
  },
  answer(verdict, text) {
    if (verdict === 'allow') return { exitCode: 0, stderr: '', stdout: json({}) };
    return { exitCode: 0, stderr: '', stdout: json({ decision: 'deny', reason: text }) };
  },
};
