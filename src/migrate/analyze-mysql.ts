import { type SqlAst, parseSql, splitMysqlStatements } from '../sql/parser.js';
import { type Finding, type FindingKind, type TableRef, findingFor } from './analyze.js';

/*
 * MySQL/MariaDB migration SQL (Prisma's, Drizzle's, Knex's or hand-written) read with a MySQL grammar. In MySQL a
 * database is what PostgreSQL calls a schema: `db.table` becomes { schema: db, name: table }.
 */
export function analyzeMysqlSql(sql: string): Finding[] {
  const findings: Finding[] = [];
  for (const statement of splitMysqlStatements(sql.replace(/--> statement-breakpoint/g, (m) => ' '.repeat(m.length)))) {
    const asts = parseSql(statement.text, 'mysql');
    if (!asts) {
      if (/\b(DROP|TRUNCATE|DELETE|ALTER|UPDATE)\b/i.test(statement.text.replace(/--[^\n]*/g, ''))) findings.push(findingFor('unparseable', statement));
      continue;
    }
    for (const ast of asts) findings.push(...astFindings(ast, statement));
  }
  return findings;
}

function astFindings(ast: SqlAst, statement: { text: string; line: number }): Finding[] {
  const at = (kind: FindingKind, table?: TableRef, column?: string): Finding => ({ ...findingFor(kind, statement, table), ...(column ? { column } : {}) });
  const keyword = String(ast.keyword ?? '').toLowerCase();
  switch (ast.type) {
    case 'drop':
      if (keyword === 'table') return (ast.name ?? []).map((t: SqlAst) => at('drop-table', tableRef(t)));
      if (keyword === 'database' || keyword === 'schema') return [at('drop-database', { name: String(ast.name) })];
      return [];
    case 'truncate':
      return (ast.name ?? []).map((t: SqlAst) => at('truncate', tableRef(t)));
    case 'delete':
      return ast.where ? [] : (ast.from ?? ast.table ?? []).slice(0, 1).map((t: SqlAst) => at('delete-without-where', tableRef(t)));
    case 'update':
      return ast.where ? [] : (ast.table ?? []).slice(0, 1).map((t: SqlAst) => at('update-without-where', tableRef(t)));
    case 'alter': {
      const table = tableRef((ast.table ?? [])[0]);
      return (ast.expr ?? []).flatMap((e: SqlAst): Finding[] => {
        if (e.resource !== 'column') return [];
        if (e.action === 'drop') return [at('drop-column', table, columnName(e.column))];
        if (e.action !== 'modify' && e.action !== 'change') return [];
        // MODIFY/CHANGE restate the whole column: its type may change, and NOT NULL fails on (or rewrites) NULLs.
        const column = columnName(e.old_column ?? e.column);
        const found = [at('alter-column-type', table, column)];
        if (e.nullable?.type === 'not null') found.push(at('set-not-null', table, column));
        return found;
      });
    }
    default:
      return [];
  }
}

function tableRef(t: SqlAst | undefined): TableRef | undefined {
  if (!t?.table) return undefined;
  return t.db ? { schema: String(t.db), name: String(t.table) } : { name: String(t.table) };
}

function columnName(column: SqlAst | string | undefined): string | undefined {
  if (typeof column === 'string') return column;
  const name = column?.column;
  return typeof name === 'string' ? name : typeof name?.expr?.value === 'string' ? name.expr.value : undefined;
}
