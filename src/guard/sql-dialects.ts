import { type Dialect, parseSql, sqlText } from '../sql/parser.js';
import type { Finding, Verdict } from './types.js';

/*
 * SQLite and MySQL/MariaDB SQL is read with node-sql-parser's grammar for that dialect: the PostgreSQL parser
 * rejects what those databases accept (an unquoted `User` table, `DELETE ... LIMIT`, `INTERVAL 30 DAY`, `\'`
 * escapes, multi-table DELETE, `SHOW CREATE TABLE`, `INSERT OR REPLACE`).
 */

type Statement = Record<string, unknown> & { type?: string };

/** Findings for SQL of a dialect, or undefined when its grammar does not accept the text. */
export function dialectFindings(sql: string, dialect: Dialect): Finding[] | undefined {
  const statements = (parseSql(sql, dialect) ?? parseSql(quoteTableNames(sql, dialect === 'mysql' ? '`' : '"'), dialect)) as Statement[] | undefined;
  if (statements === undefined) return undefined;
  return statements.flatMap((statement) => {
    const hit = judge(statement);
    return hit ? [{ rule: hit.rule, verdict: hit.verdict, message: `${hit.what}: ${snippet(statement, dialect)}` }] : [];
  });
}

/** Words that may follow FROM, INTO, UPDATE, JOIN or TABLE without being a table's name. */
const NOT_A_NAME = new Set(['OR', 'IF', 'ONLY', 'LATERAL', 'SELECT', 'WITH', 'VALUES', 'IGNORE', 'LOW_PRIORITY', 'QUICK', 'DELAYED', 'HIGH_PRIORITY', 'STRAIGHT_JOIN', 'DUAL', 'TEMPORARY', 'TEMP', 'TABLE', 'OUTFILE', 'DUMPFILE']);

/**
 * The grammars reserve words that the databases accept as table names (SQLite takes `Session`, `User`, `Order`
 * unquoted, as Prisma names its tables): quoting the word after FROM, INTO, UPDATE, JOIN and TABLE changes nothing
 * the statement does, and lets the grammar read it. Quoting never adds a WHERE, so it cannot make a statement safer.
 */
function quoteTableNames(sql: string, quote: string): string {
  return sql.replace(/\b(FROM|INTO|UPDATE|JOIN|TABLE)(\s+)([A-Za-z_]\w*)\b(?!\s*\()/gi, (whole, keyword: string, space: string, name: string) =>
    NOT_A_NAME.has(name.toUpperCase()) ? whole : `${keyword}${space}${quote}${name}${quote}`);
}

type Hit = { rule: string; verdict: Verdict; what: string } | undefined;

/** Statements that change neither the schema nor more rows than they name. */
const HARMLESS = new Set(['select', 'insert', 'replace', 'show', 'desc', 'describe', 'use', 'set', 'transaction', 'lock', 'unlock', 'call', 'explain', 'attach']);

/** What a statement does, by the same rules (and rule ids) as the PostgreSQL parser's statements. */
function judge(statement: Statement): Hit {
  const type = String(statement.type ?? '').toLowerCase();
  if (type === 'delete') {
    return filters(statement.where) ? undefined : { rule: 'sql-delete-without-where', verdict: 'block', what: 'deletes every row: DELETE without WHERE (or with one that is always true)' };
  }
  if (type === 'update') {
    return filters(statement.where) ? undefined : { rule: 'sql-update-without-where', verdict: 'block', what: 'overwrites every row: UPDATE without WHERE (or with one that is always true)' };
  }
  if (type === 'truncate') return { rule: 'sql-truncate', verdict: 'block', what: 'deletes every row of the table' };
  if (type === 'drop') return dropHit(String(statement.keyword ?? '').toLowerCase(), JSON.stringify(statement).toLowerCase().includes('"cascade"'));
  if (type === 'alter') {
    const actions = (Array.isArray(statement.expr) ? statement.expr : [statement.expr]) as Array<Record<string, unknown> | undefined>;
    const dropsColumn = actions.some((a) => a?.action === 'drop' && (a.resource === 'column' || a.column !== undefined));
    if (dropsColumn) return { rule: 'sql-drop-column', verdict: 'block', what: 'drops a column and its data' };
  }
  if (HARMLESS.has(type)) return undefined;
  return { rule: 'sql-schema-change', verdict: 'backup', what: 'changes the schema' };
}

function dropHit(keyword: string, cascade: boolean): Hit {
  if (keyword === 'database' || keyword === 'schema') return { rule: 'sql-drop-database', verdict: 'block', what: 'deletes a whole database' };
  if (keyword === 'table') return { rule: 'sql-drop-table', verdict: 'block', what: 'drops a table and the data in it' };
  const rule = `sql-drop-${keyword || 'object'}`;
  return cascade ? { rule, verdict: 'block', what: 'drops with CASCADE, which also drops everything that depends on it' } : { rule, verdict: 'backup', what: 'changes the schema' };
}

type Expr = Record<string, unknown> & { type?: string };

/** A WHERE clause that can leave rows out: not missing, and not always true (`WHERE 1`, `WHERE 1=1`, `WHERE true OR x`). */
function filters(where: unknown): boolean {
  return where !== undefined && where !== null && !alwaysTrue(where as Expr);
}

function alwaysTrue(expr: Expr | undefined): boolean {
  if (!expr || typeof expr !== 'object') return false;
  if (expr.type === 'number') return Number(expr.value) !== 0;
  if (expr.type === 'bool' || expr.type === 'boolean') return expr.value === true || String(expr.value).toLowerCase() === 'true';
  if (expr.type !== 'binary_expr') return false;
  const op = String(expr.operator).toUpperCase();
  const left = expr.left as Expr | undefined;
  const right = expr.right as Expr | undefined;
  if (op === 'OR' || op === '||') return alwaysTrue(left) || alwaysTrue(right);
  if (op === 'AND' || op === '&&') return alwaysTrue(left) && alwaysTrue(right);
  const compared = compareConstants(op, constantOf(left), constantOf(right));
  if (compared !== undefined) return compared;
  return ['=', '==', '>=', '<=', '<=>', 'IS'].includes(op) && shape(left) === shape(right);
}

function constantOf(expr: Expr | undefined): number | string | boolean | undefined {
  if (!expr) return undefined;
  if (expr.type === 'number') return Number(expr.value);
  if (expr.type === 'bool' || expr.type === 'boolean') return expr.value === true || String(expr.value).toLowerCase() === 'true';
  if (expr.type === 'single_quote_string' || expr.type === 'string') return String(expr.value);
  return undefined;
}

/** The result of comparing two literals (`2 > 1`, `'a' <> 'b'`), or undefined when either side is not one. */
export function compareConstants(op: string, left: number | string | boolean | undefined, right: number | string | boolean | undefined): boolean | undefined {
  if (left === undefined || right === undefined || typeof left !== typeof right) return undefined;
  switch (op) {
    case '=':
    case '==':
    case '<=>':
      return left === right;
    case '<>':
    case '!=':
      return left !== right;
    case '<':
      return left < right;
    case '>':
      return left > right;
    case '<=':
      return left <= right;
    case '>=':
      return left >= right;
    default:
      return undefined;
  }
}

function shape(expr: unknown): string {
  return JSON.stringify(expr, (key, value: unknown) => (key === 'parentheses' || key === 'loc' ? undefined : value));
}

function snippet(statement: Statement, dialect: Dialect): string {
  let text: string;
  try {
    text = sqlText(statement, dialect);
  } catch {
    text = String(statement.type ?? 'statement').toUpperCase();
  }
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
