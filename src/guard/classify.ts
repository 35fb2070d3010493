import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type ResolveContext, type Resolved, resolveCommand } from './resolve.js';
import { hasOption, optionValues, parseArgs } from './args.js';
import { GUARDED_TOOLS, type InspectContext, evaluate, includedFiles, mayNameDatabaseFile } from './rules.js';
import type { StdinSource } from './shell.js';
import type { Parser } from 'web-tree-sitter';
import { ShellParserNotLoaded, loadShellParser, parseShell } from './shell.js';
import { type SqlDialect, SqlParserNotLoaded, inspectSql, loadSqlParser } from './sql.js';
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
/** SQLite and MySQL SQL is read by its own dialect's parser first, so the PostgreSQL one is not loaded ahead for it. */
const OTHER_DIALECT_CLIENT = /\b(sqlite3|mysql|mariadb)\b/i;
const CONSENT_LIKE = /CONSENT|APPROV|ALLOW|FORCE|DANGER|DBGUARD/i;

/** Classifies one shell command line: the most severe verdict over every command it would run, with reasons. */
export async function classifyCommand(line: string, options: ClassifyOptions): Promise<Classification> {
  try {
    return await classifyWith(undefined, line, options);
  } catch (error) {
    if (!(error instanceof ShellParserNotLoaded)) throw error;
    // Both WebAssembly parsers compile on background threads: when SQL is likely, they load side by side.
    if (MAY_CARRY_SQL.test(line) && !OTHER_DIALECT_CLIENT.test(line)) loadSqlParser().catch(() => undefined);
    return classifyWith(await loadShellParser(), line, options);
  }
}

/** Without a parser, plain lines (and the scripts they run) are read without one; see parseShell. */
async function classifyWith(parser: Parser | undefined, line: string, options: ClassifyOptions): Promise<Classification> {
  const readFile = options.readFile ?? readTextFile;
  const written = new Map<string, string>();
  const ctx: ResolveContext = { parser, readFile: (file) => written.get(file) ?? readFile(file), written, unparsed: [], overwritten: [] };
  const top = parseShell(parser, line, { cwd: path.resolve(options.cwd), readFile: ctx.readFile });
  for (const [file, text] of top.writtenFiles) written.set(file, text);
  for (const file of top.overwritten ?? []) ctx.overwritten.push({ display: oneLine(line), file });
  if (!top.complete) ctx.unparsed.push({ display: oneLine(line), text: line });

  const found: Array<Finding & { command: string }> = [];
  const checked: string[] = [];
  const produced = new Map<string, Produced>();
  for (const resolved of top.commands.flatMap((c) => resolveCommand(c, ctx))) {
    checked.push(redact(resolved.display));
    for (const finding of adjust(await evaluateWithSql(resolved, ctx, produced), resolved)) found.push({ ...finding, command: redact(resolved.display) });
    for (const [file, how] of dumpFiles(resolved)) produced.set(file, how);
  }
  for (const { display, file } of ctx.overwritten) {
    if (mayNameDatabaseFile(file)) found.push({ rule: 'redirect-overwrites-database', verdict: 'block', command: redact(display), message: `empties or replaces the SQLite database file ${file} with a > redirect` });
  }
  for (const { display, text } of ctx.unparsed) {
    const word = MENTIONS.exec(text)?.[2];
    if (word) found.push({ rule: 'shell-unparseable', verdict: 'block', command: redact(display), message: `could not parse this shell command and it mentions \`${word}\`, so it is treated as destructive` });
  }
  return { ...summarize(found), checked: [...new Set(checked)] };
}

/** The SQL parser (a 1.7 MB WebAssembly module) is loaded only for the first command that carries SQL. */
async function evaluateWithSql(resolved: Resolved, ctx: ResolveContext, produced: Map<string, Produced>): Promise<Finding[]> {
  try {
    return evaluate(resolved, sqlInspector(ctx, resolved.cwd, produced));
  } catch (error) {
    if (!(error instanceof SqlParserNotLoaded)) throw error;
    await loadSqlParser();
    return evaluate(resolved, sqlInspector(ctx, resolved.cwd, produced));
  }
}

/** A file an earlier command on the line writes: a dump, with `--clean` (it then drops what it restores) or not. */
type Produced = { by: string; clean: boolean };

const DUMPERS: Record<string, string[]> = { pg_dump: ['-f', '--file'], pg_dumpall: ['-f', '--file'], pg_restore: ['-f', '--file'], mysqldump: ['-r', '--result-file'] };

const DUMP_VALUES = ['-F', '--format', '-d', '--dbname', '-U', '--username', '-h', '--host', '-p', '--port', '-n', '-N', '-t', '-T', '-Z', '-j', '-E', '-S', '-u', '--user', '-P'];

function dumpFiles(resolved: Resolved): Array<[string, Produced]> {
  const flags = DUMPERS[resolved.tool];
  if (!flags) return [];
  const parsed = parseArgs(resolved.args, { withValue: [...flags, ...DUMP_VALUES] });
  const clean = hasOption(parsed, '-c', '--clean', '--add-drop-table', '--add-drop-database');
  return optionValues(parsed, ...flags).map((file) => [path.resolve(resolved.cwd, file), { by: resolved.tool, clean }]);
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

const MAX_INCLUDE_DEPTH = 8;

/** The database each SQL client talks to; other clients (`prisma db execute`, `typeorm query`) could run any. */
const CLIENT_DIALECTS: Record<string, SqlDialect> = { psql: 'postgresql', sqlite3: 'sqlite', mysql: 'mysql' };

function sqlInspector(ctx: ResolveContext, cwd: string, produced: Map<string, Produced>): InspectContext {
  const inspect = (sources: StdinSource[], client: string, depth: number, seen: Set<string>): Finding[] =>
    sources.flatMap((source): Finding[] => {
      const dialect = CLIENT_DIALECTS[client];
      if (source.kind === 'text') return inspectSql(source.text, dialect);
      if (source.kind === 'opaque') return generatedSql(source.command, client);
      const relative = path.relative(cwd, source.path);
      const name = relative && !relative.startsWith('..') ? relative : source.path;
      if (seen.has(source.path) || depth > MAX_INCLUDE_DEPTH) return [];
      const text = ctx.readFile(source.path);
      if (text === undefined) {
        const dump = produced.get(source.path);
        if (dump?.clean) return [{ rule: 'sql-clean-dump', verdict: 'block', message: `runs ${name}, which ${dump.by} writes with --clean earlier on the line: it drops the objects it restores` }];
        if (dump) return [{ rule: 'sql-not-visible', verdict: 'backup', message: `runs ${name}, which ${dump.by} writes earlier on the line` }];
        return [{ rule: 'sql-file-unreadable', verdict: 'block', message: `could not read ${name} to check the SQL it runs` }];
      }
      const inner = inspect(includedFiles(text, cwd, path.dirname(source.path)), client, depth + 1, new Set([...seen, source.path]));
      return [...inspectSql(text, dialect), ...inner].map((f) => ({ ...f, message: f.message.endsWith(')') && f.message.includes(' (in ') ? f.message : `${f.message} (in ${name})` }));
    });
  return { sql: (sources, client) => inspect(sources, client, 0, new Set()), readFile: ctx.readFile };
}

const SQL_CLIENTS = new Set(['psql', 'mysql', 'mariadb', 'sqlite3']);

/** SQL read from another command's output: a query's rows, or a dump that drops what it restores, are not checked text. */
function generatedSql(command: string, client: string): Finding[] {
  const words = command.trim().split(/\s+/);
  const tool = path.basename(words[0] ?? '');
  if (SQL_CLIENTS.has(tool)) return [{ rule: 'sql-generated', verdict: 'block', message: `${client} runs SQL that \`${command}\` generates, which cannot be checked` }];
  if (/^pg_(dump|dumpall|restore)$|^mysqldump$/.test(tool) && words.some((w) => /^(-c|--clean|--add-drop-(table|database))$/.test(w))) {
    return [{ rule: 'sql-clean-dump', verdict: 'block', message: `${client} runs a dump made with --clean (\`${command}\`): it drops the objects it restores` }];
  }
  return [{ rule: 'sql-not-visible', verdict: 'backup', message: `${client} runs SQL from \`${command}\`, which cannot be inspected` }];
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
