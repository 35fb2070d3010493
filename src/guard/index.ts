export { classifyCommand, readTextFile, type ClassifyOptions } from './classify.js';
export { claudeHookAnswer, claudePreToolUse, type ClaudeHookOutput, type Classify } from './claude-hook.js';
export { TOOL_RULES, GUARDED_TOOLS, type ToolRule } from './rules.js';
export { type Classification, type Reason, type Verdict, type ReadFile, moreSevere, worstVerdict } from './types.js';
export { guardedRun, executeCommand, type GuardedRunOptions, type GuardedRunResult, type RunEvent } from './run.js';
export { appendAudit, readAudit, AUDIT_LOG, type AuditEntry } from './audit.js';
export { readEnvironmentMarker, writeEnvironmentMarker, isProduction, MARKER_TABLE } from './marker.js';
export { resolveCommandTarget, databaseUrlsInCommand, type CommandTarget } from './target.js';
export { scanText, scanStaged, fileKind, ALLOW_COMMENT, type ScanFinding } from './scan.js';
