import { describe, expect, it } from 'vitest';
import { momentBeforeApproval } from '../../src/core/pitr-time.js';
import type { AuditEntry } from '../../src/guard/audit.js';

const SHOP = 'postgresql://127.0.0.1:5432/shop';
const entry = (time: string, backupId: string, database = SHOP): AuditEntry => ({
  time,
  command: `psql -c 'DROP TABLE t' # ${backupId}`,
  reason: 'r',
  approvedBy: 'flag',
  backupId,
  database,
  rules: ['sql-drop'],
});

describe('--at before:guard', () => {
  const log = [
    entry('2026-03-01T10:00:00.500Z', 'shop-1'),
    entry('2026-03-01T12:00:00.000Z', 'shop-2'),
    entry('2026-03-01T13:00:00.000Z', 'other-1', 'postgresql://127.0.0.1:5432/other'),
  ];

  it('is one second before the newest command approved on the database, or before the one whose backup is named', () => {
    expect(momentBeforeApproval(log, 'guard', SHOP).at.toISOString()).toBe('2026-03-01T11:59:59.000Z');
    expect(momentBeforeApproval(log, 'guard:shop-1', SHOP)).toEqual({ at: new Date('2026-03-01T09:59:59.500Z'), entry: log[0] });
  });

  it('refuses an unknown entry (exit 2), listing the approved commands on the database', () => {
    expect(() => momentBeforeApproval(log, 'guard:shop-9', SHOP)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('whose backup is shop-9') }));
    try {
      momentBeforeApproval(log, 'guard:shop-9', SHOP);
    } catch (error) {
      expect((error as { hint: string }).hint.split('\n').slice(1)).toEqual([expect.stringContaining('(before:guard:shop-2)'), expect.stringContaining('(before:guard:shop-1)')]);
    }
    expect(() => momentBeforeApproval([], 'guard', SHOP)).toThrow(`no approved command on ${SHOP}`);
  });
});
