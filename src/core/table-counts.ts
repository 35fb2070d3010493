import type { TableCounts } from '../engines/types.js';

/** Human-readable differences between expected and actual row counts (empty when they match). */
export function compareTableCounts(expected: TableCounts, actual: TableCounts, only?: readonly string[]): string[] {
  const names = only ?? Object.keys(expected);
  const differences: string[] = [];
  for (const name of names) {
    const want = expected[name];
    const got = actual[name];
    if (want === undefined) differences.push(`${name}: not in the backup`);
    else if (got === undefined) differences.push(`${name}: missing (expected ${want} rows)`);
    else if (want !== got) differences.push(`${name}: ${got} rows, expected ${want}`);
  }
  return differences;
}

export function totalRows(tables: TableCounts): number {
  return Object.values(tables).reduce((sum, n) => sum + n, 0);
}

/**
 * Resolves `--table` names against the backup's table names: `users` matches `public.users`
 * when exactly one schema has it.
 */
export function resolveTableNames(requested: readonly string[], available: readonly string[]): { resolved: string[]; unknown: string[] } {
  const resolved: string[] = [];
  const unknown: string[] = [];
  for (const name of requested) {
    if (available.includes(name)) {
      resolved.push(name);
      continue;
    }
    const matches = available.filter((table) => table.endsWith(`.${name}`) && table.split('.').length === 2);
    if (matches.length === 1) resolved.push(matches[0]!);
    else unknown.push(name);
  }
  return { resolved, unknown };
}
