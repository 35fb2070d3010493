import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type ResolveContext, type Resolved, resolveCommand } from './resolve.js';
import { GUARDED_TOOLS, type InspectContext, evaluate } from './rules.js';
import type { Parser } from 'web-tree-sitter';
import { ShellParserNotLoaded, loadShellParser, parseShell } from './shell.js';
import { SqlParserNotLoaded, inspectSql, loadSqlParser } from './sql.js';
import { type Classification, type Finding, type ReadFile, type Reason, VERDICTS, type Verdict, worstVerdict } from './types.js';

export interface ClassifyOptions {
  /** Where the command runs: `cd`, relative paths and the nearest package.json start here. */
  cwd: string;
  /** How package.json, SQL and shell script files are read; the real file system by default. */
  readFile?: ReadFile;
}

export const readTextFile: ReadFile = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

const MENTIONS = new RegExp(`(^|[^\\w-])(${[...GUARDED_TOOLS, 'drop', 'truncate', 'delete'].map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![\\w-])`, 'i');
const MAY_CARRY_SQL = /psql|sqlite|mysql|mariadb|prisma|\.sql|select|insert|update|delete|drop|truncate|alter|create/i;
const CONSENT_LIKE = /CONSENT|APPROV|ALLOW|FORCE|DANGER|DBGUARD/i;

/** Classifies one shell command line: the most severe verdict over every command it would run, with reasons. */
export async function classifyCommand(line: string, options: ClassifyOptions): Promise<Classification> {
  try {
    return await classifyWith(undefined, line, options);
  } catch (error) {
    if (!(error instanceof ShellParserNotLoaded)) throw error;
    // Both WebAssembly parsers compile on background threads: when SQL is likely, they load side by side.
    if (MAY_CARRY_SQL.test(line)) loadSqlParser().catch(() => undefined);
    return classifyWith(await loadShellParser(), line, options);
  }
}

/** Without a parser, plain lines (and the scripts they run) are read without one; see parseShell. */
async function classifyWith(parser: Parser | undefined, line: string, options: ClassifyOptions): Promise<Classification> {
  const readFile = options.readFile ?? readTextFile;
  const written = new Map<string, string>();
  const ctx: ResolveContext = { parser, readFile: (file) => written.get(file) ?? readFile(file), written, unparsed: [] };
  const top = parseShell(parser, line, { cwd: path.resolve(options.cwd), readFile: ctx.readFile });
  for (const [file, text] of top.writtenFiles) written.set(file, text);
  if (!top.complete) ctx.unparsed.push({ display: oneLine(line), text: line });

  const found: Array<Finding & { command: string }> = [];
  const checked: string[] = [];
  for (const resolved of top.commands.flatMap((c) => resolveCommand(c, ctx))) {
    checked.push(redact(resolved.display));
    for (const finding of adjust(await evaluateWithSql(resolved, ctx), resolved)) found.push({ ...finding, command: redact(resolved.display) });
  }
  for (const { display, text } of ctx.unparsed) {
    const word = MENTIONS.exec(text)?.[2];
    if (word) found.push({ rule: 'shell-unparseable', verdict: 'block', command: redact(display), message: `could not parse this shell command and it mentions \`${word}\`, so it is treated as destructive` });
  }
  return { ...summarize(found), checked: [...new Set(checked)] };
}

/** The SQL parser (a 1.7 MB WebAssembly module) is loaded only for the first command that carries SQL. */
async function evaluateWithSql(resolved: Resolved, ctx: ResolveContext): Promise<Finding[]> {
  try {
    return evaluate(resolved, sqlInspector(ctx, resolved.cwd));
  } catch (error) {
    if (!(error instanceof SqlParserNotLoaded)) throw error;
    await loadSqlParser();
    return evaluate(resolved, sqlInspector(ctx, resolved.cwd));
  }
}

function summarize(found: Array<Finding & { command: string }>): Classification {
  const rank = (v: Verdict) => VERDICTS.indexOf(v);
  const seen = new Set<string>();
  const reasons: Reason[] = [];
  for (const { rule, command, message } of [...found].sort((a, b) => rank(b.verdict) - rank(a.verdict))) {
    const key = `${rule}\n${command}\n${message}`;
    if (!seen.has(key)) reasons.push({ rule, command, message });
    seen.add(key);
  }
  return { verdict: worstVerdict(found.map((f) => f.verdict)), reasons };
}

function sqlInspector(ctx: ResolveContext, cwd: string): InspectContext {
  return {
    sql: (sources, client) =>
      sources.flatMap((source): Finding[] => {
        if (source.kind === 'text') return inspectSql(source.text);
        if (source.kind === 'opaque') {
          return [{ rule: 'sql-not-visible', verdict: 'backup', message: `${client} runs SQL from \`${source.command}\`, which cannot be inspected` }];
        }
        const relative = path.relative(cwd, source.path);
        const name = relative && !relative.startsWith('..') ? relative : source.path;
        const text = ctx.readFile(source.path);
        if (text === undefined) return [{ rule: 'sql-file-unreadable', verdict: 'block', message: `could not read ${name} to check the SQL it runs` }];
        return inspectSql(text).map((f) => ({ ...f, message: `${f.message} (in ${name})` }));
      }),
  };
}

/** Inside `dbguard run` a backup is taken anyway; what is destructive still needs a human. Environment variables never approve. */
function adjust(findings: Finding[], resolved: Resolved): Finding[] {
  const consent = resolved.envNames.filter((n) => CONSENT_LIKE.test(n));
  return findings
    .filter((f) => !resolved.dbguardRun || f.verdict === 'block')
    .map((f) => {
      if (f.verdict !== 'block') return f;
      let message = f.message;
      if (resolved.dbguardRun) message += "; dbguard run refuses it without a human's approval";
      if (resolved.dbguardRun?.approve) message += ', and an --approve written into the command line is not one';
      if (consent.length > 0) message += `; setting ${consent.join(', ')} is not consent`;
      return { ...f, message };
    });
}

/** Passwords typed into a command line stay out of reasons, which end up in logs and agent transcripts. */
function redact(command: string): string {
  return command
    .replace(/(\w+:\/\/[^:/@\s'"]+:)[^@\s'"]+@/g, '$1***@')
    .replace(/(--password[= ])\S+/g, '$1***')
    .replace(/(^|\s)-p(?=\S)(?!\d+(\s|$))\S+/g, '$1-p***');
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}
