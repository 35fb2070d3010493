import './wasm.js';
import { createRequire } from 'node:module';
import type { Dialect } from '../sql/parser.js';
import { compareConstants, dialectFindings } from './sql-dialects.js';
import type { Finding, Verdict } from './types.js';

/*
 * SQL is parsed with libpg-query, the PostgreSQL server's own parser compiled to WASM. SQL sent to SQLite or
 * MySQL/MariaDB is read with a parser for that dialect first (sql-dialects.ts); what it rejects (`BEGIN`,
 * `EXPLAIN DELETE`, `VACUUM`) is tried with the PostgreSQL grammar, statement by statement. A statement no parser
 * accepts is judged by its keywords, and says so.
 */

/** The database that runs the SQL: `psql` PostgreSQL, `sqlite3` SQLite, `mysql`/`mariadb` MySQL; undefined when unknown. */
export type SqlDialect = 'postgresql' | Dialect;

type LibpgQuery = typeof import('libpg-query');

let loading: Promise<void> | undefined;
/** Set once the parser is ready: imported on first use, as most shell commands carry no SQL. */
let pg: Pick<LibpgQuery, 'parseSync' | 'scanSync'> | undefined;

const requireModule = createRequire(import.meta.url);

export function loadSqlParser(): Promise<void> {
  loading ??= (async () => {
    // libpg-query is CommonJS: require() loads it in half the CPU time of import(), which first has Node translate
    // the module and the ones it re-exports for ES modules (bench case `guard-hook`).
    const module = requireModule('libpg-query') as LibpgQuery;
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
  DeleteStmt: (node) => (filters(node.whereClause) ? undefined : { rule: 'sql-delete-without-where', verdict: 'block', what: 'deletes every row: DELETE without WHERE (or with one that is always true)' }),
  UpdateStmt: (node) => (filters(node.whereClause) ? undefined : { rule: 'sql-update-without-where', verdict: 'block', what: 'overwrites every row: UPDATE without WHERE (or with one that is always true)' }),
  DoStmt: (node) => {
    const body = JSON.stringify(node.args ?? '');
    if (/\bEXECUTE\b/i.test(body)) return { rule: 'sql-dynamic', verdict: 'block', what: 'runs SQL built at run time (EXECUTE), which cannot be checked' };
    const word = DESTRUCTIVE_KEYWORDS.find((k) => new RegExp(`\\b${k}\\b`, 'i').test(body));
    return word ? { rule: 'sql-do-block', verdict: 'block', what: `runs a DO block that contains ${word}` } : undefined;
  },
  AlterTableCmd: (node) =>
    node.subtype === 'AT_DropColumn' ? { rule: 'sql-drop-column', verdict: 'block', what: 'drops a column and its data' } : undefined,
};

/** A WHERE clause that can leave rows out: not missing, and not always true (`WHERE 1=1`, `WHERE true OR x`). */
function filters(where: unknown): boolean {
  return where !== undefined && where !== null && !alwaysTrue(where as AstNode);
}

function alwaysTrue(node: AstNode): boolean {
  const [kind, body] = Object.entries(node)[0] ?? [];
  const value = body as AstNode | undefined;
  if (!value) return false;
  if (kind === 'A_Const') {
    const bool = (value.boolval as AstNode | undefined)?.boolval;
    const int = (value.ival as AstNode | undefined)?.ival;
    return bool === true || (typeof int === 'number' && int !== 0);
  }
  if (kind === 'A_Expr' && value.kind === 'AEXPR_OP') {
    const op = ((value.name as Array<{ String?: { sval?: string } }> | undefined) ?? []).map((n) => n.String?.sval ?? '').join('.');
    const compared = compareConstants(op, constantOf(value.lexpr), constantOf(value.rexpr));
    if (compared !== undefined) return compared;
    return ['=', '>=', '<='].includes(op) && stripLocations(value.lexpr) === stripLocations(value.rexpr);
  }
  if (kind === 'BoolExpr') {
    const args = (value.args as AstNode[] | undefined) ?? [];
    if (value.boolop === 'OR_EXPR') return args.some(alwaysTrue);
    if (value.boolop === 'AND_EXPR') return args.length > 0 && args.every(alwaysTrue);
  }
  return false;
}

/** The value of a literal (`2`, `1.5`, `'a'`, `true`); the parser leaves out a zero (`{ ival: {} }`). */
function constantOf(node: unknown): number | string | boolean | undefined {
  const literal = (node as AstNode | undefined)?.A_Const as AstNode | undefined;
  if (!literal) return undefined;
  if (literal.ival) return Number((literal.ival as AstNode).ival ?? 0);
  if (literal.fval) return Number((literal.fval as AstNode).fval ?? 0);
  if (literal.sval) return String((literal.sval as AstNode).sval ?? '');
  if (literal.boolval) return (literal.boolval as AstNode).boolval === true;
  return undefined;
}

function stripLocations(node: unknown): string {
  return JSON.stringify(node, (key, v: unknown) => (key === 'location' ? undefined : v));
}

/** Statements that change neither the schema nor more rows than they name. */
const HARMLESS_STATEMENTS = new Set([
  'SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'ExplainStmt', 'VariableSetStmt', 'VariableShowStmt', 'TransactionStmt',
  'CopyStmt', 'PrepareStmt', 'ExecuteStmt', 'DeallocateStmt', 'ListenStmt', 'UnlistenStmt', 'NotifyStmt', 'LockStmt', 'VacuumStmt',
  'CheckPointStmt', 'CallStmt', 'DeclareCursorStmt', 'FetchStmt', 'ClosePortalStmt', 'DiscardStmt', 'ConstraintsSetStmt',
  'RefreshMatViewStmt', 'ReindexStmt', 'ClusterStmt',
]);

const DESTRUCTIVE_KEYWORDS = ['DROP', 'TRUNCATE', 'DELETE'];
const FILTERED_KEYWORDS = new Set(['DELETE', 'UPDATE']);
const SCHEMA_KEYWORDS = ['ALTER', 'CREATE', 'RENAME', 'REPLACE', 'UPDATE'];

/**
 * Findings for a piece of SQL. Throws {@link SqlParserNotLoaded} when the PostgreSQL parser is needed and not yet
 * loaded: call {@link loadSqlParser} and ask again.
 */
export function inspectSql(sql: string, dialect?: SqlDialect): Finding[] {
  const text = stripClientCommands(sql.replace(/\uFEFF/g, ''));
  const client = clientCommandFindings(sql);
  if (text.trim() === '') return client;
  const own = dialect === 'sqlite' || dialect === 'mysql' ? dialectFindings(text, dialect) : undefined;
  if (own) return [...client, ...summarize(own)];
  if (!pg) throw new SqlParserNotLoaded('the SQL parser is not loaded');
  return [...client, ...statementsFindings(text, dialect)];
}

/** psql and sqlite3 commands that run SQL nobody wrote down, or replace the whole database. */
function clientCommandFindings(sql: string): Finding[] {
  const found: Finding[] = [];
  if (/\\gexec\b/.test(sql)) found.push({ rule: 'psql-gexec', verdict: 'block', message: 'runs the rows of a query as SQL (\\gexec), which cannot be checked' });
  if (/^\s*\.restore\b/m.test(sql)) found.push({ rule: 'sqlite-restore', verdict: 'block', message: 'replaces the whole database with the content of another file (.restore)' });
  return found;
}

/** Grammars to try on a statement the PostgreSQL parser rejects, by the database that runs it. */
const OTHER_DIALECTS: Record<SqlDialect | 'unknown', Dialect[]> = { postgresql: [], sqlite: ['sqlite'], mysql: ['mysql'], unknown: ['mysql', 'sqlite'] };

function statementsFindings(text: string, dialect: SqlDialect | undefined): Finding[] {
  const whole = parseAny(text);
  if (whole) return summarize(whole.statements.flatMap((s) => statementFindings(s, whole.text)));
  const others = OTHER_DIALECTS[dialect ?? 'unknown'];
  return summarize(splitStatements(text).flatMap((chunk) => {
    for (const other of others) {
      const found = dialectFindings(chunk, other);
      if (found) return found;
    }
    const parsed = parseAny(chunk);
    return parsed ? parsed.statements.flatMap((s) => statementFindings(s, parsed.text)) : unparsedFindings(chunk);
  }));
}

/** As written; with MySQL backticks as double quotes; with psql variables (`:name`, `:'name'`) as placeholders. */
function parseAny(sql: string): { statements: RawStatement[]; text: string } | undefined {
  for (const text of [sql, sql.replace(/`/g, '"'), withoutPsqlVariables(sql)]) {
    const statements = tryParse(text);
    if (statements) return { statements, text };
  }
  return undefined;
}

/** psql interpolates `:name`, `:'name'` and `:"name"` before the server sees the text; `::type` casts stay. */
function withoutPsqlVariables(sql: string): string {
  return sql.replace(/(?<!:):'\w+'/g, "'v'").replace(/(?<!:):"\w+"/g, '"v"').replace(/(?<![:\w]):(?=[A-Za-z_])\w+/g, '0');
}

/** psql backslash commands, sqlite3 dot-commands and mysql's `source`/`delimiter` are not SQL. */
function stripClientCommands(sql: string): string {
  return sql.split('\n').map((line) => (/^\s*([\\.]|(source|delimiter)\s+\S+\s*;?\s*$)/i.test(line) ? '' : line)).join('\n');
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
  const explain = raw.stmt.ExplainStmt as AstNode | undefined;
  // EXPLAIN plans without running; EXPLAIN ANALYZE runs the statement.
  if (explain && !analyzes(explain)) return [];
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

function analyzes(explain: AstNode): boolean {
  const options = (explain.options as Array<{ DefElem?: AstNode }> | undefined) ?? [];
  return options.some(({ DefElem: option }) => {
    if (option?.defname !== 'analyze') return false;
    const arg = JSON.stringify(option.arg ?? '').toLowerCase();
    // A zero has no value in the tree: `ANALYZE 0` is `{"Integer":{}}` (lower-cased here).
    return !/"(false|off|0)"|"ival":0|"integer":\{\}/.test(arg);
  });
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
  const list = keywords(chunk);
  const words = new Set(list);
  const snippet = excerpt(chunk, 0);
  // An UPDATE statement (not `ON UPDATE` inside a table definition) overwrites every row unless it has a WHERE.
  const destructive = DESTRUCTIVE_KEYWORDS.find((k) => words.has(k)) ?? (list[0] === 'UPDATE' ? 'UPDATE' : undefined);
  if (destructive && FILTERED_KEYWORDS.has(destructive) && words.has('WHERE') && !DESTRUCTIVE_KEYWORDS.some((k) => k !== destructive && words.has(k))) {
    return [{ rule: 'sql-unparseable', verdict: 'backup', message: `could not parse this SQL (another dialect?); it is ${destructive === 'UPDATE' ? 'an' : 'a'} ${destructive} with a WHERE, so take a backup first: ${snippet}` }];
  }
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

/** The scanner's positions count UTF-8 bytes, so the text is cut as bytes: an accented letter must not shift a cut. */
function splitStatements(sql: string): string[] {
  try {
    const bytes = Buffer.from(sql);
    const cuts = pg!.scanSync(sql).tokens.filter((t) => t.text === ';').map((t) => t.end);
    const starts = [0, ...cuts];
    return starts.map((start, i) => bytes.subarray(start, cuts[i] ?? bytes.length).toString()).filter((s) => s.trim() !== '' && s.trim() !== ';');
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

/**
 * One finding per rule and verdict, with a count when a script repeats it. The verdict is part of the key: a rule
 * can give both (`DROP VIEW a; DROP VIEW b CASCADE`), and the block must not be counted into the backup.
 */
function summarize(findings: Finding[]): Finding[] {
  const byRule = new Map<string, { finding: Finding; count: number }>();
  for (const finding of findings) {
    const key = `${finding.rule}\0${finding.verdict}`;
    const seen = byRule.get(key);
    if (seen) seen.count += 1;
    else byRule.set(key, { finding, count: 1 });
  }
  return [...byRule.values()].map(({ finding, count }) => (count > 1 ? { ...finding, message: `${finding.message} (and ${count - 1} more)` } : finding));
}
