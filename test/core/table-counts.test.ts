import { describe, expect, it } from 'vitest';
import { compareTableCounts, resolveTableNames, totalRows } from '../../src/core/table-counts.js';

describe('row counts after a restore', () => {
  it('match: no differences', () => {
    expect(compareTableCounts({ a: 1, 'public.b': 0 }, { a: 1, 'public.b': 0, extra: 5 })).toEqual([]);
  });

  it('names every table that differs, is missing, or is not in the backup', () => {
    expect(compareTableCounts({ a: 2, b: 3 }, { a: 1 })).toEqual(['a: 1 rows, expected 2', 'b: missing (expected 3 rows)']);
    expect(compareTableCounts({ a: 2 }, { a: 2, c: 1 }, ['a', 'c'])).toEqual(['c: not in the backup']);
    expect(compareTableCounts({ a: 0 }, { a: 0 })).toEqual([]);
    expect(compareTableCounts({ a: 0 }, {})).toEqual(['a: missing (expected 0 rows)']);
  });

  it('compares only the tables asked for', () => {
    expect(compareTableCounts({ a: 2, b: 3 }, { a: 2, b: 0 }, ['a'])).toEqual([]);
  });

  it('totals rows', () => {
    expect(totalRows({})).toBe(0);
    expect(totalRows({ a: 2, b: 3 })).toBe(5);
  });
});

describe('--table names', () => {
  const available = ['public.users', 'billing.invoices', 'audit.users', 'public.posts', 'plain'];
  it('resolves exact names, and a bare name that exactly one schema has', () => {
    expect(resolveTableNames(['billing.invoices', 'posts', 'plain'], available)).toEqual({ resolved: ['billing.invoices', 'public.posts', 'plain'], unknown: [] });
  });
  it('leaves ambiguous and unknown names unresolved', () => {
    expect(resolveTableNames(['users', 'nope', 'voices'], available)).toEqual({ resolved: [], unknown: ['users', 'nope', 'voices'] });
    expect(resolveTableNames(['b.c'], ['a.b.c'])).toEqual({ resolved: [], unknown: ['b.c'] });
  });
});
