export { classifyCommand, readTextFile, type ClassifyOptions } from './classify.js';
export { claudeHookAnswer, claudePreToolUse, type ClaudeHookOutput, type Classify } from './claude-hook.js';
export { TOOL_RULES, GUARDED_TOOLS, type ToolRule } from './rules.js';
export { type Classification, type Reason, type Verdict, type ReadFile, moreSevere, worstVerdict } from './types.js';
