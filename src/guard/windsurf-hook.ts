import { type AgentHook, HookInputError, SILENT, isRecord, optionalString, requiredString } from './agent-hook.js';

/**
 * Windsurf Cascade's `pre_run_command` hook (docs.windsurf.com/windsurf/cascade/hooks; `.windsurf/hooks.json`): the
 * event carries `agent_action_name` and `tool_info.command_line` / `tool_info.cwd`; a pre-hook blocks by exiting
 * with code 2, and what it writes to stderr is shown. There is no "ask", so a schema change is blocked too, with
 * `dbguard run -- <command>` as the way to go on: it takes the backup and then runs the command.
 */
export const windsurfHook: AgentHook = {
  agent: 'windsurf',
  title: 'Windsurf',
  read(event) {
    if (requiredString(event, 'agent_action_name') !== 'pre_run_command') return undefined;
    const info = event.tool_info;
    if (!isRecord(info)) throw new HookInputError('tool_info is missing or not an object');
    const command = requiredString(info, 'command_line');
    if (command.trim() === '') throw new HookInputError('tool_info.command_line is empty');
    return { command, cwd: optionalString(info, 'cwd') };
  },
  answer(verdict, text) {
    return verdict === 'allow' ? SILENT : { exitCode: 2, stdout: '', stderr: `${text}\n` };
  },
};
