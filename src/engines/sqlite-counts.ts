import type Database from 'better-sqlite3';
import type { TableCounts } from './types.js';

export function quoteSqliteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Row counts of every ordinary table (SQLite's internal tables and virtual tables excluded). */
export function countSqliteRows(db: Database.Database): TableCounts {
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name",
    )
    .pluck()
    .all() as string[];
  const counts: TableCounts = {};
  for (const name of tables) {
    counts[name] = Number(db.prepare(`SELECT count(*) FROM ${quoteSqliteIdent(name)}`).pluck().get());
  }
  return counts;
}
