/*
 * MySQL/MariaDB SQL through node-sql-parser (its MySQL grammar, loaded on first use: most commands never need it).
 * Dialect-neutral on purpose: callers get statements with their source line and the parser's AST, and decide
 * themselves what a statement means.
 */

/** node-sql-parser's AST: a plain object per statement (`type`: drop, alter, truncate, delete, update, ...). */
export type SqlAst = Record<string, any>;

export interface SourceStatement {
  /** The statement's text, comments before it included (they may carry `-- dbguard:allow`). */
  text: string;
  /** 1-based line where the statement's first token is. */
  line: number;
}

type Astify = (sql: string) => SqlAst | SqlAst[];
let astify: Promise<Astify> | undefined;

function loadParser(): Promise<Astify> {
  astify ??= (async () => {
    const { default: module } = (await import('node-sql-parser/build/mysql.js')) as unknown as { default: { Parser: new () => { astify(sql: string, options: { database: string }): SqlAst | SqlAst[] } } };
    const parser = new module.Parser();
    return (sql: string) => parser.astify(sql, { database: 'MySQL' });
  })();
  return astify;
}

/** The statements of one MySQL statement's text; undefined when the MySQL grammar cannot read it. */
export async function parseMysql(text: string): Promise<SqlAst[] | undefined> {
  const parse = await loadParser();
  try {
    const ast = parse(text);
    return (Array.isArray(ast) ? ast : [ast]).filter(Boolean);
  } catch {
    return undefined;
  }
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
