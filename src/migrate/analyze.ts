import { parseSync } from 'libpg-query';
import { loadSqlParser } from '../guard/sql.js';

/*
 * Migration SQL is parsed with libpg-query, PostgreSQL's own parser. The SQLite that Prisma and Drizzle generate
 * parses with it too once backtick identifiers become double quotes and SQLite-only statements (PRAGMA, Drizzle's
 * `--> statement-breakpoint`) are blanked; a statement that still does not parse is reported, never ignored.
 */

export type FindingKind =
  | 'drop-table'
  | 'drop-column'
  | 'drop-schema'
  | 'drop-database'
  | 'truncate'
  | 'delete-without-where'
  | 'update-without-where'
  | 'alter-column-type'
  | 'set-not-null'
  | 'table-rewrite'
  | 'unparseable';

export interface TableRef {
  schema?: string | undefined;
  name: string;
}

export interface Finding {
  kind: FindingKind;
  /** The statement, trimmed and shortened for display. */
  statement: string;
  /** 1-based line of the statement in its file. */
  line: number;
  table?: TableRef | undefined;
  column?: string | undefined;
  /** SQLite table rewrites: the columns of the old table that the copy carries over. */
  copiedColumns?: string[] | undefined;
  /** Accepted with `-- dbguard:allow <kind>` in the statement. */
  allowed: boolean;
}

type Node = Record<string, any>;

interface Statement {
  node: Node;
  type: string;
  text: string;
  line: number;
}

/**
 * The part of a migration file that applying it runs. node-pg-migrate's SQL migrations hold both directions, marked
 * by `-- Up Migration` and `-- Down Migration` comments; its own rule: the up part runs from its marker to the down
 * marker (or the end), and a file without an up marker runs whole. The rest is blanked with its lines kept, so
 * findings keep their line numbers.
 */
export function upMigrationSql(sql: string): string {
  const marker = (direction: 'up' | 'down') => sql.search(new RegExp(`^\\s*--[\\s-]*${direction}\\s+migration`, 'im'));
  const up = marker('up');
  if (up < 0) return sql;
  const down = marker('down');
  const end = down > up ? down : sql.length;
  const blank = (text: string) => text.replace(/[^\n]/g, '');
  return blank(sql.slice(0, up)) + sql.slice(up, end) + blank(sql.slice(end));
}

/** The SQL dialect of migration files: PostgreSQL's parser reads PostgreSQL and SQLite; MySQL has its own grammar. */
export type MigrationDialect = 'postgres' | 'sqlite' | 'mysql';

export async function analyzeSql(sql: string, dialect: MigrationDialect = 'postgres'): Promise<Finding[]> {
  if (dialect === 'mysql') return (await import('./analyze-mysql.js')).analyzeMysqlSql(sql);
  await loadSqlParser();
  const statements = splitStatements(sql);
  const findings: Finding[] = [];
  for (const [index, statement] of statements.entries()) {
    if (statement.type === 'unparseable') {
      if (/\b(DROP|TRUNCATE|DELETE|ALTER|UPDATE)\b/i.test(statement.text)) findings.push(finding('unparseable', statement));
      continue;
    }
    findings.push(...statementFindings(statement, statements.slice(index + 1), statements.slice(0, index)));
  }
  return findings;
}

function statementFindings(statement: Statement, after: Statement[], before: Statement[]): Finding[] {
  const { node, type } = statement;
  switch (type) {
    case 'DropStmt': {
      const kind = node.removeType === 'OBJECT_TABLE' ? 'drop-table' : node.removeType === 'OBJECT_SCHEMA' ? 'drop-schema' : undefined;
      if (!kind) return [];
      return (node.objects ?? []).map((object: Node) => {
        const names = (object.List?.items ?? [object]).map((item: Node) => item.String?.sval as string);
        const table = kind === 'drop-schema' ? { name: names.at(-1)! } : tableRef(names);
        const rewrite = kind === 'drop-table' ? tableRewrite(table, before, after) : undefined;
        return rewrite
          ? { ...finding('table-rewrite', statement, table), copiedColumns: rewrite }
          : finding(kind, statement, table);
      });
    }
    case 'DropdbStmt':
      return [finding('drop-database', statement, { name: node.dbname })];
    case 'TruncateStmt':
      return (node.relations ?? []).map((r: Node) => finding('truncate', statement, rangeVar(r.RangeVar)));
    case 'DeleteStmt':
      return node.whereClause ? [] : [finding('delete-without-where', statement, rangeVar(node.relation))];
    case 'UpdateStmt':
      return node.whereClause ? [] : [finding('update-without-where', statement, rangeVar(node.relation))];
    case 'AlterTableStmt': {
      const table = rangeVar(node.relation);
      return (node.cmds ?? []).flatMap((cmd: Node) => {
        const { subtype, name } = cmd.AlterTableCmd ?? {};
        if (subtype === 'AT_DropColumn') return [{ ...finding('drop-column', statement, table), column: name }];
        if (subtype === 'AT_AlterColumnType') return [{ ...finding('alter-column-type', statement, table), column: name }];
        if (subtype === 'AT_SetNotNull') return [{ ...finding('set-not-null', statement, table), column: name }];
        return [];
      });
    }
    default:
      return [];
  }
}

/**
 * SQLite cannot alter most columns, so Prisma and Drizzle copy the table: CREATE new_X, INSERT INTO new_X (...)
 * SELECT ... FROM X, DROP TABLE X, ALTER TABLE new_X RENAME TO X. Returns the copied columns when `dropped` is
 * the old table of such a rewrite.
 */
function tableRewrite(dropped: TableRef, before: Statement[], after: Statement[]): string[] | undefined {
  const renamedBack = after.find((s) => s.type === 'RenameStmt' && s.node.renameType === 'OBJECT_TABLE' && s.node.newname === dropped.name);
  if (!renamedBack) return undefined;
  const copy = before.find((s) => {
    if (s.type !== 'InsertStmt' || s.node.relation?.relname !== renamedBack.node.relation?.relname) return false;
    const from = s.node.selectStmt?.SelectStmt?.fromClause ?? [];
    return from.some((f: Node) => f.RangeVar?.relname === dropped.name);
  });
  if (!copy) return [];
  const targets = copy.node.selectStmt.SelectStmt.targetList ?? [];
  return targets.flatMap((t: Node) => {
    const fields = t.ResTarget?.val?.ColumnRef?.fields ?? [];
    const last = fields.at(-1)?.String?.sval;
    return last ? [last] : [];
  });
}

function finding(kind: FindingKind, statement: Pick<Statement, 'text' | 'line'>, table?: TableRef): Finding {
  return {
    kind,
    statement: shorten(statement.text),
    line: statement.line,
    table,
    allowed: new RegExp(`dbguard:allow\\s+(?:[\\w-]+[\\s,]+)*${kind}\\b`).test(statement.text),
  };
}

export { finding as findingFor };

function tableRef(names: string[]): TableRef {
  return names.length > 1 ? { schema: names.at(-2), name: names.at(-1)! } : { name: names[0]! };
}

function rangeVar(node: Node | undefined): TableRef | undefined {
  return node ? { schema: node.schemaname, name: node.relname } : undefined;
}

function shorten(text: string): string {
  const oneLine = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}

/** Statements with their AST and source text; SQLite-only statements blanked first, offsets kept. */
function splitStatements(sql: string): Statement[] {
  const prepared = sql
    .replace(/`/g, '"')
    .replace(/^\s*PRAGMA\b[^;]*;/gim, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/--> statement-breakpoint/g, (m) => ' '.repeat(m.length));
  const bytes = Buffer.from(prepared);
  const lineOf = (offset: number) => bytes.subarray(0, offset).toString().split('\n').length;
  const parse = (text: string) => {
    try {
      return parseSync(text).stmts as Array<{ stmt: Node; stmt_location?: number; stmt_len?: number }>;
    } catch {
      return undefined;
    }
  };
  const whole = parse(prepared);
  if (whole) {
    let previousEnd = 0;
    return whole.map(({ stmt, stmt_location = 0, stmt_len = 0 }) => {
      const end = stmt_len === 0 ? bytes.length : stmt_location + stmt_len;
      // The parser's location skips comments before a statement; they belong to it (-- dbguard:allow ...).
      const text = bytes.subarray(previousEnd, end).toString().replace(/^\s*;/, '');
      previousEnd = end;
      const type = Object.keys(stmt)[0]!;
      return { node: stmt[type], type, text, line: lineOf(stmt_location) };
    });
  }
  // Some statement does not parse: take them one by one so the others are still analysed.
  const statements: Statement[] = [];
  let offset = 0;
  for (const chunk of prepared.split(/(?<=;)/)) {
    const line = prepared.slice(0, offset + (chunk.length - chunk.trimStart().length)).split('\n').length;
    offset += chunk.length;
    if (chunk.trim() === '' || chunk.replace(/--[^\n]*/g, '').trim() === '') continue;
    const parsed = parse(chunk);
    if (!parsed) statements.push({ node: {}, type: 'unparseable', text: chunk, line });
    else for (const { stmt } of parsed) statements.push({ node: stmt[Object.keys(stmt)[0]!], type: Object.keys(stmt)[0]!, text: chunk, line });
  }
  return statements;
}
