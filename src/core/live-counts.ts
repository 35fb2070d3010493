import type { DatabaseTarget } from '../config/database-url.js';
import { engineFor } from '../engines/index.js';
import type { DatabaseEngine, TableCounts } from '../engines/types.js';

/** One table's rows in a backup and in the live database (null where the table is absent). */
export interface LiveCount {
  table: string;
  backup: number | null;
  live: number | null;
}

/** What changed since a backup: each table's row count now against the backup's, tables of either side. */
export async function compareWithLive(backupTables: TableCounts, target: DatabaseTarget, engine: DatabaseEngine = engineFor(target)): Promise<LiveCount[]> {
  const live = await engine.countRows();
  const names = [...new Set([...Object.keys(backupTables), ...Object.keys(live)])].sort();
  return names.map((table) => ({ table, backup: backupTables[table] ?? null, live: live[table] ?? null }));
}
