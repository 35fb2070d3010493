import type Database from 'better-sqlite3';
import type { TableCounts } from './types.js';

export function quoteSqliteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Every ordinary table (SQLite's internal tables and virtual tables excluded), by name. */
export function sqliteTableNames(db: Database.Database): string[] {
  return db
    .prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name",
    )
    .pluck()
    .all() as string[];
}

/** Row counts of every ordinary table. */
export function countSqliteRows(db: Database.Database): TableCounts {
  const counts: TableCounts = {};
  for (const name of sqliteTableNames(db)) {
    counts[name] = Number(db.prepare(`SELECT count(*) FROM ${quoteSqliteIdent(name)}`).pluck().get());
  }
  return counts;
}
