import { describe, expect, it } from 'vitest';
import { basesTheWindowNeeds, planRecovery, restorableWindow, walBeforeBases } from '../../src/core/pitr-window.js';
import { parseMoment } from '../../src/core/pitr-time.js';
import { formatLsn, parseLsn, parseSegmentName, segmentName } from '../../src/core/wal-names.js';
import type { BackupManifest, StoredBackup } from '../../src/storage/manifest.js';
import type { StoredWal } from '../../src/storage/wal-store.js';

const MB16 = 16 * 1024 * 1024;
const SHA = 'a'.repeat(64);

function base(id: string, startLsn: string, consistentAt: string): StoredBackup {
  const manifest = {
    id,
    type: 'base',
    createdAt: consistentAt,
    base: { startLsn, endLsn: startLsn, timeline: 1, walSegmentSize: MB16, consistentAt },
  } as unknown as BackupManifest;
  return { manifest, file: `/x/${id}`, manifestPath: `/x/${id}.json`, location: 'local' };
}

function wal(segment: string, coverageAt: string | null, partial = false): StoredWal {
  return {
    object: {
      segment,
      partial,
      fileName: `${segment}.wal`,
      size: 1,
      sha256: SHA,
      rawSha256: SHA,
      compression: 'none',
      encryption: null,
      shippedAt: coverageAt ?? '2026-01-01T00:00:00.000Z',
      coverage: coverageAt ? { at: coverageAt, lsn: '0/0' } : null,
    },
    file: `/w/${segment}`,
    location: 'local',
    descriptionPath: `/w/${segment}.json`,
  };
}

const seg = (n: number) => segmentName({ timeline: 1, number: BigInt(n) }, MB16);
const t = (minute: number) => `2026-01-01T10:${String(minute).padStart(2, '0')}:00.000Z`;

describe('WAL names', () => {
  it('reads and writes LSNs and segment names as PostgreSQL does', () => {
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(segmentName({ timeline: 1, number: 0x1_05n }, MB16)).toBe('000000010000000100000005');
    expect(parseSegmentName('000000010000000100000005', MB16)).toEqual({ timeline: 1, number: 0x105n });
  });
});

describe('restorable window and recovery plan', () => {
  const bases = [base('b1', '0/2000028', t(0))];
  const objects = [wal(seg(2), t(1)), wal(seg(3), null), wal(seg(4), t(5)), wal(seg(5), t(9), true)];

  it('runs from the base backup to the newest covered moment, with the segments up to the moment', () => {
    expect(restorableWindow(bases, objects)).toEqual({ oldest: t(0), newest: t(9), holes: [], bases: 1 });
    const plan = planRecovery(bases, objects, new Date(t(3)));
    expect(plan.run.base.manifest.id).toBe('b1');
    expect(plan.segments.map((s) => s.object.segment)).toEqual([seg(2), seg(3), seg(4)]);
  });

  it('refuses a moment after a missing segment, naming it, and a moment outside the window', () => {
    const holed = objects.filter((o) => o.object.segment !== seg(3));
    expect(restorableWindow(bases, holed).holes).toEqual([{ from: seg(3), to: seg(3) }]);
    expect(() => planRecovery(bases, holed, new Date(t(4)))).toThrow(`WAL segments ${seg(3)} are missing from the archive`);
    expect(planRecovery(bases, holed, new Date(t(1))).segments).toHaveLength(1); // before the hole: fine
    expect(() => planRecovery(bases, objects, new Date(t(10)))).toThrow(`The restorable window is ${t(0)} to ${t(9)}`);
    expect(() => planRecovery(bases, objects, new Date('2026-01-01T09:59:00Z'))).toThrow('before the oldest base backup');
  });

  it('recovers from the newest base backup before the moment', () => {
    const two = [...bases, base('b2', '0/4000028', t(6))];
    expect(planRecovery(two, objects, new Date(t(7))).run.base.manifest.id).toBe('b2');
    expect(planRecovery(two, objects, new Date(t(5))).run.base.manifest.id).toBe('b1');
  });
});

describe('retention and the window', () => {
  const objects = [wal(seg(2), t(1)), wal(seg(3), t(3)), wal(seg(4), t(5)), wal(seg(5), t(9), true)];
  const b1 = base('b1', '0/2000028', t(0));
  const b2 = base('b2', '0/4000028', t(4));

  it('lets an old base backup go and with it only the WAL before the oldest kept one', () => {
    expect(basesTheWindowNeeds([b1, b2], objects, new Set(['b1']))).toEqual(new Set());
    expect(walBeforeBases([b2], objects).map((o) => o.object.segment)).toEqual([seg(2), seg(3)]);
    expect(walBeforeBases([b1, b2], objects)).toEqual([]);
    expect(walBeforeBases([], objects)).toEqual([]);
  });

  it('keeps a base backup whose loss would empty the window or lose its newest moments', () => {
    // b3 was just taken: no WAL after it yet, so b2 is the only start left if b1 goes, and b3 alone starts nothing.
    const b3 = base('b3', '0/5000028', t(10));
    expect(basesTheWindowNeeds([b1, b2, b3], objects, new Set(['b1', 'b2']))).toEqual(new Set(['b2']));
    // A hole after b1: the newest moments are reached only from b2.
    const holed = objects.filter((o) => o.object.segment !== seg(3));
    expect(basesTheWindowNeeds([b1, b2], holed, new Set(['b2']))).toEqual(new Set(['b2']));
    expect(basesTheWindowNeeds([b1, b2], holed, new Set(['b1']))).toEqual(new Set());
  });
});

describe('--at moments', () => {
  it('reads ISO 8601 with an offset, and local times in a time zone (daylight saving included)', () => {
    expect(parseMoment('2026-03-01T14:03:00+01:00').toISOString()).toBe('2026-03-01T13:03:00.000Z');
    expect(parseMoment('2026-03-01 14:03', 'Europe/Berlin').toISOString()).toBe('2026-03-01T13:03:00.000Z');
    expect(parseMoment('2026-07-01 14:03:05.5', 'Europe/Berlin').toISOString()).toBe('2026-07-01T12:03:05.500Z');
    expect(() => parseMoment('yesterday')).toThrow('is not a moment');
  });
});
