import './wasm.js';
import type { Finding, Verdict } from './types.js';

/*
 * SQL is parsed with libpg-query, the PostgreSQL server's own parser compiled to WASM. SQLite and MySQL statements
 * that matter here (DROP, TRUNCATE, DELETE, ALTER) share its grammar; backtick identifiers are retried as double
 * quotes. A statement it still cannot parse is judged by its keywords, conservatively.
 */

type LibpgQuery = typeof import('libpg-query');

let loading: Promise<void> | undefined;
/** Set once the parser is ready: imported on first use, as most shell commands carry no SQL. */
let pg: Pick<LibpgQuery, 'parseSync' | 'scanSync'> | undefined;

export function loadSqlParser(): Promise<void> {
  loading ??= (async () => {
    const module = await import('libpg-query');
    await module.loadModule();
    pg = module;
  })();
  return loading;
}

/** Thrown by {@link inspectSql} before {@link loadSqlParser} has finished: the caller loads it and asks again. */
export class SqlParserNotLoaded extends Error {}

type AstNode = Record<string, unknown>;
type NodeRule = (node: AstNode) => { rule: string; verdict: Verdict; what: string } | undefined;

const DATA_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_SCHEMA', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE']);

const NODE_RULES: Record<string, NodeRule> = {
  DropdbStmt: () => ({ rule: 'sql-drop-database', verdict: 'block', what: 'deletes a whole database' }),
  DropStmt: (node) => {
    const kind = String(node.removeType ?? 'OBJECT').replace(/^OBJECT_/, '').toLowerCase().replace(/_/g, '-');
    if (DATA_OBJECTS.has(String(node.removeType))) return { rule: `sql-drop-${kind}`, verdict: 'block', what: `drops a ${kind.replace('-', ' ')} and the data in it` };
    if (node.behavior === 'DROP_CASCADE') return { rule: `sql-drop-${kind}`, verdict: 'block', what: 'drops with CASCADE, which also drops everything that depends on it' };
    return { rule: `sql-drop-${kind}`, verdict: 'backup', what: 'changes the schema' };
  },
  DropOwnedStmt: () => ({ rule: 'sql-drop-owned', verdict: 'block', what: "drops every object a role owns, with their data" }),
  TruncateStmt: () => ({ rule: 'sql-truncate', verdict: 'block', what: 'deletes every row of the table' }),
  DeleteStmt: (node) => (node.whereClause ? undefined : { rule: 'sql-delete-without-where', verdict: 'block', what: 'deletes every row: DELETE without WHERE' }),
  UpdateStmt: (node) => (node.whereClause ? undefined : { rule: 'sql-update-without-where', verdict: 'block', what: 'overwrites every row: UPDATE without WHERE' }),
  AlterTableCmd: (node) =>
    node.subtype === 'AT_DropColumn' ? { rule: 'sql-drop-column', verdict: 'block', what: 'drops a column and its data' } : undefined,
};

/** Statements that change neither the schema nor more rows than they name. */
const HARMLESS_STATEMENTS = new Set([
  'SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'ExplainStmt', 'VariableSetStmt', 'VariableShowStmt', 'TransactionStmt',
  'CopyStmt', 'PrepareStmt', 'ExecuteStmt', 'DeallocateStmt', 'ListenStmt', 'UnlistenStmt', 'NotifyStmt', 'LockStmt', 'VacuumStmt',
  'CheckPointStmt', 'CallStmt', 'DeclareCursorStmt', 'FetchStmt', 'ClosePortalStmt', 'DiscardStmt', 'ConstraintsSetStmt',
  'RefreshMatViewStmt', 'ReindexStmt', 'ClusterStmt',
]);

const DESTRUCTIVE_KEYWORDS = ['DROP', 'TRUNCATE', 'DELETE'];
const SCHEMA_KEYWORDS = ['ALTER', 'CREATE', 'RENAME', 'REPLACE', 'UPDATE'];

/** Findings for a piece of SQL; call {@link loadSqlParser} once first. */
export function inspectSql(sql: string): Finding[] {
  const text = stripClientCommands(sql);
  if (text.trim() === '') return [];
  if (!pg) throw new SqlParserNotLoaded('the SQL parser is not loaded');
  const whole = tryParse(text) ?? tryParse(text.replace(/`/g, '"'));
  if (whole) return summarize(whole.flatMap((s) => statementFindings(s, text)));
  return summarize(splitStatements(text).flatMap((chunk) => {
    const parsed = tryParse(chunk) ?? tryParse(chunk.replace(/`/g, '"'));
    return parsed ? parsed.flatMap((s) => statementFindings(s, chunk)) : unparsedFindings(chunk);
  }));
}

/** psql backslash commands and sqlite3 dot-commands are not SQL. */
function stripClientCommands(sql: string): string {
  return sql.split('\n').map((line) => (/^\s*[\\.]/.test(line) ? '' : line)).join('\n');
}

interface RawStatement {
  stmt: AstNode;
  stmt_location?: number;
  stmt_len?: number;
}

function tryParse(sql: string): RawStatement[] | undefined {
  try {
    return (pg!.parseSync(sql) as { stmts?: RawStatement[] }).stmts ?? [];
  } catch {
    return undefined;
  }
}

function statementFindings(raw: RawStatement, sql: string): Finding[] {
  const snippet = excerpt(sql, raw.stmt_location ?? 0, raw.stmt_len);
  const found: Finding[] = [];
  visit(raw.stmt, (key, node) => {
    const hit = NODE_RULES[key]?.(node);
    if (hit) found.push({ rule: hit.rule, verdict: hit.verdict, message: `${hit.what}: ${snippet}` });
  });
  const kind = Object.keys(raw.stmt)[0] ?? '';
  if (found.length === 0 && !HARMLESS_STATEMENTS.has(kind)) found.push({ rule: 'sql-schema-change', verdict: 'backup', message: `changes the schema: ${snippet}` });
  return found;
}

function visit(value: unknown, onNode: (key: string, node: AstNode) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item, onNode);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (child !== null && typeof child === 'object' && !Array.isArray(child) && /^[A-Z]/.test(key)) onNode(key, child as AstNode);
      visit(child, onNode);
    }
  }
}

function unparsedFindings(chunk: string): Finding[] {
  const words = new Set(keywords(chunk));
  const snippet = excerpt(chunk, 0);
  const destructive = DESTRUCTIVE_KEYWORDS.find((k) => words.has(k));
  if (destructive) {
    return [{ rule: 'sql-unparseable', verdict: 'block', message: `could not parse this SQL and it contains ${destructive}, so it is treated as destructive: ${snippet}` }];
  }
  const schema = SCHEMA_KEYWORDS.find((k) => words.has(k));
  return schema ? [{ rule: 'sql-unparseable', verdict: 'backup', message: `could not parse this SQL and it contains ${schema}: ${snippet}` }] : [];
}

/** Keywords outside comments and string literals, upper-cased. */
function keywords(sql: string): string[] {
  try {
    return pg!.scanSync(sql).tokens.filter((t) => t.keywordKind > 0).map((t) => t.text.toUpperCase());
  } catch {
    return sql.replace(/--.*$/gm, '').replace(/'[^']*'/g, '').toUpperCase().match(/[A-Z_]+/g) ?? [];
  }
}

function splitStatements(sql: string): string[] {
  try {
    const cuts = pg!.scanSync(sql).tokens.filter((t) => t.text === ';').map((t) => t.end);
    const starts = [0, ...cuts];
    return starts.map((start, i) => sql.slice(start, cuts[i] ?? sql.length)).filter((s) => s.trim() !== '' && s.trim() !== ';');
  } catch {
    return sql.split(';').filter((s) => s.trim() !== '');
  }
}

/** Locations from the parser count UTF-8 bytes. */
function excerpt(sql: string, start: number, length?: number): string {
  const bytes = Buffer.from(sql);
  const text = bytes.subarray(start, length === undefined ? undefined : start + length).toString().replace(/\s+/g, ' ').trim();
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One finding per rule, with a count when a script repeats it. */
function summarize(findings: Finding[]): Finding[] {
  const byRule = new Map<string, { finding: Finding; count: number }>();
  for (const finding of findings) {
    const seen = byRule.get(finding.rule);
    if (seen) seen.count += 1;
    else byRule.set(finding.rule, { finding, count: 1 });
  }
  return [...byRule.values()].map(({ finding, count }) => (count > 1 ? { ...finding, message: `${finding.message} (and ${count - 1} more)` } : finding));
}
