import { createRequire } from 'node:module';

/*
 * SQLite and MySQL/MariaDB SQL through node-sql-parser, the grammar of each dialect loaded on first use: each is
 * 200-300 kB of JavaScript, so a command without SQL of that dialect never pays for it. It is loaded with require()
 * (a CommonJS package: half the CPU of import(), which the guard's hook feels on every command an agent runs).
 * Dialect-neutral on purpose: callers get the parser's AST and decide themselves what a statement means.
 */

export type Dialect = 'sqlite' | 'mysql';

/** node-sql-parser's AST: a plain object per statement (`type`: drop, alter, truncate, delete, update, ...). */
export type SqlAst = Record<string, any>;

interface Grammar {
  astify(sql: string, options: { database: string }): SqlAst | SqlAst[];
  sqlify(ast: SqlAst, options: { database: string }): string;
}

const MODULES: Record<Dialect, string> = { sqlite: 'node-sql-parser/build/sqlite', mysql: 'node-sql-parser/build/mysql' };
const grammars = new Map<Dialect, Grammar>();
const requireModule = createRequire(import.meta.url);

function grammarFor(dialect: Dialect): Grammar {
  let grammar = grammars.get(dialect);
  if (!grammar) {
    const { Parser } = requireModule(MODULES[dialect]) as { Parser: new () => Grammar };
    grammar = new Parser();
    grammars.set(dialect, grammar);
  }
  return grammar;
}

/** The statements of `sql`; undefined when the dialect's grammar cannot read it. */
export function parseSql(sql: string, dialect: Dialect): SqlAst[] | undefined {
  let ast: SqlAst | SqlAst[];
  try {
    ast = grammarFor(dialect).astify(sql, { database: dialect });
  } catch {
    return undefined;
  }
  return (Array.isArray(ast) ? ast : [ast]).filter(Boolean);
}

/** A statement written back as SQL by the dialect's grammar (it throws on statements it cannot write). */
export function sqlText(statement: SqlAst, dialect: Dialect): string {
  return grammarFor(dialect).sqlify(statement, { database: dialect });
}

export interface SourceStatement {
  /** The statement's text, comments before it included (they may carry `-- dbguard:allow`). */
  text: string;
  /** 1-based line where the statement's first token is. */
  line: number;
}

// Quoted strings and identifiers (backslash escapes and doubled quotes), comments, and the `;` between statements.
const TOKENS = /'(?:\\[\s\S]|''|[^'\\])*'|"(?:\\[\s\S]|""|[^"\\])*"|`(?:``|[^`])*`|--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/|;/g;

/** Splits a MySQL script at the `;` that end statements (not those inside strings, identifiers or comments). */
export function splitMysqlStatements(sql: string): SourceStatement[] {
  const statements: SourceStatement[] = [];
  let start = 0;
  const push = (end: number) => {
    const text = sql.slice(start, end);
    const code = text.replace(TOKENS, (token) => (token === ';' || token.startsWith('--') || token.startsWith('#') || token.startsWith('/*') ? ' ' : 'x'));
    if (code.trim() !== '') {
      const leading = /^(?:\s|--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)*/.exec(text)![0].length;
      statements.push({ text, line: sql.slice(0, start + leading).split('\n').length });
    }
  };
  for (const match of sql.matchAll(TOKENS)) {
    if (match[0] !== ';') continue;
    push(match.index);
    start = match.index + 1;
  }
  push(sql.length);
  return statements;
}
