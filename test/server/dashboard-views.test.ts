import { describe, expect, it } from 'vitest';
import { backupsPage } from '../../src/server/dashboard/views.js';
import { BACKUP_TYPES } from '../../src/storage/manifest.js';

describe('the backups page', () => {
  it('offers every backup type in its type filter, base backups too, and keeps the chosen one selected', async () => {
    const page = String(await backupsPage({ csrf: 'c', readOnly: true, now: new Date(0) }, ['shop'], [], { type: 'base' }));
    const select = /<select name="type">([\s\S]*?)<\/select>/.exec(page)![1]!;
    expect([...select.matchAll(/<option[^>]*>([^<]*)<\/option>/g)].map((m) => m[1])).toEqual(['all', ...BACKUP_TYPES]);
    expect(select).toContain('<option selected>base</option>');
  });
});
