import type Database from 'better-sqlite3';
import { quoteSqliteIdent, sqliteTableNames } from './sqlite-counts.js';
import type { ForeignKey, RowStream, SchemaGraph, SchemaTable } from './types.js';

interface ColumnInfo { name: string; pk: number }
interface ForeignKeyInfo { id: number; seq: number; table: string; from: string; to: string | null }

export function describeSqliteSchema(db: Database.Database): SchemaGraph {
  const tables = sqliteTableNames(db).map((name): SchemaTable => {
    const columns = db.prepare(`PRAGMA table_info(${quoteSqliteIdent(name)})`).all() as ColumnInfo[];
    const primaryKey = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const indexNames = (db.prepare(`PRAGMA index_list(${quoteSqliteIdent(name)})`).all() as Array<{ name: string; partial: number }>)
      .filter((index) => !index.partial)
      .map((index) => index.name);
    const indexes = indexNames.map((index) =>
      (db.prepare(`PRAGMA index_info(${quoteSqliteIdent(index)})`).all() as Array<{ seqno: number; name: string | null }>)
        .sort((a, b) => a.seqno - b.seqno)
        .map((c) => c.name ?? ''),
    );
    // An INTEGER PRIMARY KEY is the rowid: indexed, yet in no index_list.
    return { id: name, schema: null, name, columns: columns.map((c) => c.name), primaryKey, indexes: primaryKey.length > 0 ? [primaryKey, ...indexes] : indexes };
  });
  // SQLite matches the parent table's name without regard to case.
  const byLowerName = new Map(tables.map((t) => [t.name.toLowerCase(), t]));
  const foreignKeys: ForeignKey[] = [];
  for (const table of tables) {
    const rows = db.prepare(`PRAGMA foreign_key_list(${quoteSqliteIdent(table.name)})`).all() as ForeignKeyInfo[];
    for (const id of new Set(rows.map((r) => r.id))) {
      const parts = rows.filter((r) => r.id === id).sort((a, b) => a.seq - b.seq);
      const target = byLowerName.get(parts[0]!.table.toLowerCase());
      if (!target) continue; // a dangling reference: SQLite allows one to a table that does not exist
      const referenced = parts.every((p) => p.to !== null) ? parts.map((p) => p.to!) : target.primaryKey;
      if (referenced.length !== parts.length) continue;
      foreignKeys.push({ table: table.id, columns: parts.map((p) => p.from), references: { table: target.id, columns: referenced } });
    }
  }
  return { tables, foreignKeys };
}

/** `fn` in one read transaction; rows are stepped one at a time. Integers beyond 2^53 come as bigint. */
export async function readSqliteSnapshot<T>(db: Database.Database, fn: (rows: RowStream) => Promise<T>): Promise<T> {
  db.exec('BEGIN');
  const rows: RowStream = async function* (sql) {
    let batch: Array<Record<string, unknown>> = [];
    for (const row of db.prepare(sql).safeIntegers(true).iterate() as Iterable<Record<string, unknown>>) {
      for (const key in row) {
        const value = row[key];
        if (typeof value === 'bigint' && value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER) row[key] = Number(value);
      }
      batch.push(row);
      if (batch.length === 1000) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  };
  try {
    return await fn(rows);
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
}
