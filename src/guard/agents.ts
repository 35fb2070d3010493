import type { AgentHook } from './agent-hook.js';
import { claudeHook } from './claude-hook.js';
import { codexHook } from './codex-hook.js';
import { copilotHook } from './copilot-hook.js';
import { cursorHook } from './cursor-hook.js';
import { GEMINI_SHELL_TOOL, geminiHook } from './gemini-hook.js';
import { windsurfHook } from './windsurf-hook.js';

export const AGENT_HOOKS: Readonly<Record<string, AgentHook>> = Object.fromEntries(
  [claudeHook, cursorHook, geminiHook, codexHook, copilotHook, windsurfHook].map((hook) => [hook.agent, hook]),
);

export const AGENTS = Object.keys(AGENT_HOOKS);

/** Where `dbguard init --agent <name>` writes the hook, in the agent's documented settings format. */
export interface HookSettings {
  /** Relative to the project. */
  file: string;
  /** `{ "version": 1 }` at the top of the file (Cursor, Copilot). */
  version?: number;
  /** The key under `hooks`. */
  event: string;
  /**
   * How the hook command finds the project's own dbguard without npx (which costs about a second per command): a
   * variable the agent sets to the project folder, or `.` when the agent runs project hooks from the project folder.
   * Undefined when the agent documents neither: the hook then runs `npx dbguard`.
   */
  projectDir?: string;
  entry(command: string): Record<string, unknown>;
}

export const HOOK_SETTINGS: Readonly<Record<string, HookSettings>> = {
  claude: {
    file: '.claude/settings.json',
    event: 'PreToolUse',
    projectDir: '"$CLAUDE_PROJECT_DIR"',
    entry: (command) => ({ matcher: 'Bash', hooks: [{ type: 'command', command }] }),
  },
  cursor: {
    file: '.cursor/hooks.json',
    version: 1,
    event: 'beforeShellExecution',
    projectDir: '.',
    entry: (command) => ({ command }),
  },
  gemini: {
    file: '.gemini/settings.json',
    event: 'BeforeTool',
    projectDir: '"$GEMINI_PROJECT_DIR"',
    entry: (command) => ({ matcher: GEMINI_SHELL_TOOL, hooks: [{ type: 'command', name: 'dbguard', command, description: 'blocks commands that can destroy database data' }] }),
  },
  codex: {
    file: '.codex/hooks.json',
    event: 'PreToolUse',
    entry: (command) => ({ matcher: 'Bash', hooks: [{ type: 'command', command }] }),
  },
  copilot: {
    file: '.github/hooks/dbguard.json',
    version: 1,
    event: 'preToolUse',
    projectDir: '.',
    entry: (command) => ({ type: 'command', bash: command, cwd: '.', timeoutSec: 30 }),
  },
  windsurf: {
    file: '.windsurf/hooks.json',
    event: 'pre_run_command',
    entry: (command) => ({ command, show_output: true }),
  },
};
