import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRemote } from '../../src/config/remote.js';
import { WalArchive, WalShipper } from '../../src/core/wal-archive.js';
import { openSources } from '../../src/core/sources.js';
import { newIdentity } from '../../src/pipeline/encryption.js';
import { S3WalStore } from '../../src/storage/s3-wal-store.js';
import { LocalWalStore } from '../../src/storage/wal-store.js';
import { type S3Server, startS3 } from '../harness/s3.js';
import { tempDir } from '../harness/tmp.js';

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3();
  Object.assign(process.env, s3.env()); // the AWS SDK's credentials chain reads them
});
afterAll(() => s3?.stop());

const SEGMENTS = ['000000010000000000000003', '000000010000000000000004'];

function archiveIn(dir: string, prefix: string, keepLocal: boolean): WalArchive {
  const remote = resolveRemote({ url: `s3://${s3.bucket}/${prefix}`, keepLocal }, s3.env(prefix))!;
  const sources = openSources({ dir, remote });
  return new WalArchive(new LocalWalStore(sources.local.root, 'shop'), new S3WalStore(sources.remote!, 'shop'), keepLocal);
}

describe('WAL archive in the local folder and the bucket', () => {
  it('ships each segment once into both, encrypted; reads the bucket when the local copy is gone; the segment in progress replaces its previous object', async () => {
    const dir = tempDir();
    const spool = tempDir();
    const key = await newIdentity(new Date());
    const archive = archiveIn(dir, 'both', true);
    const shipper = new WalShipper(archive, { compression: { algorithm: 'zstd' }, encryption: { recipients: [key.recipient] }, remotePartialEveryMs: 0 });
    expect(await shipper.load()).toBeNull();
    shipper.beginRound();
    const raw = SEGMENTS.map(() => Buffer.concat([randomBytes(1 << 16), Buffer.alloc(1 << 20)]));
    for (const [i, segment] of SEGMENTS.entries()) {
      writeFileSync(path.join(spool, segment), raw[i]!);
      const coverage = { at: `2026-01-01T00:00:0${i}.000Z`, lsn: `0/${i + 3}000000` };
      const { shipped, complete } = await shipper.shipFinished(path.join(spool, segment), segment, coverage);
      expect(complete).toBe(true);
      expect(shipped?.object).toMatchObject({ segment, partial: false, encryption: { algorithm: 'age', recipients: [key.recipient] } });
    }
    // Again: every store holds them, nothing is written.
    expect((await shipper.shipFinished(path.join(spool, SEGMENTS[0]!), SEGMENTS[0]!, null)).shipped).toBeUndefined();
    expect(shipper.remoteOutcome).toBe('ok');

    const each = await archive.listEach();
    expect(each.map((e) => e.objects.map((o) => [o.object.segment, o.location]))).toEqual([
      SEGMENTS.map((s) => [s, 'local']),
      SEGMENTS.map((s) => [s, 'remote']),
    ]);
    // The same stored bytes in both (encrypted once).
    expect(each[0]!.objects.map((o) => o.object.sha256)).toEqual(each[1]!.objects.map((o) => o.object.sha256));

    // The local copies are gone: the bucket's are read, checked and decrypted.
    rmSync(archive.local.dir, { recursive: true });
    const { objects } = await archive.list();
    expect(objects.map((o) => o.location)).toEqual(['remote', 'remote']);
    const dest = path.join(spool, 'restored');
    await archive.unpack(objects[1]!, dest, { identities: [key.identity] });
    expect(readFileSync(dest).equals(raw[1]!)).toBe(true);

    // A damaged object in the bucket is refused by name.
    const object = path.join(s3.dir, s3.bucket, 'both', 'wal', 'shop', `${objects[0]!.object.fileName}._S3rver_object`);
    const bytes = readFileSync(object);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(object, bytes);
    await expect(archive.unpack(objects[0]!, dest, { identities: [key.identity] })).rejects.toThrow(`WAL segment ${SEGMENTS[0]} is corrupted`);

    // The segment in progress: a changed capture replaces the previous object; an unchanged one only moves its coverage.
    const partialFile = path.join(spool, '000000010000000000000005.partial');
    writeFileSync(partialFile, randomBytes(4096));
    const first = await shipper.shipPartial(partialFile, '000000010000000000000005', { at: '2026-01-01T00:00:05.000Z', lsn: '0/5000100' });
    writeFileSync(partialFile, randomBytes(4096));
    const second = await shipper.shipPartial(partialFile, '000000010000000000000005', { at: '2026-01-01T00:00:06.000Z', lsn: '0/5000200' });
    expect(second!.object.fileName).not.toBe(first!.object.fileName);
    await shipper.shipPartial(partialFile, '000000010000000000000005', { at: '2026-01-01T00:00:07.000Z', lsn: '0/5000200' });
    const partials = (await archive.listEach()).map((e) => e.objects.filter((o) => o.object.partial).map((o) => [o.object.fileName, o.object.coverage!.at]));
    expect(partials).toEqual([
      [[second!.object.fileName, '2026-01-01T00:00:07.000Z']],
      [[second!.object.fileName, '2026-01-01T00:00:07.000Z']],
    ]);
    const inBucket = readdirSync(path.join(s3.dir, s3.bucket, 'both', 'wal', 'shop')).filter((n) => n.includes('.partial-'));
    expect(inBucket.filter((n) => n.endsWith('._S3rver_object')).map((n) => n.replace(/\._S3rver_object$/, ''))).toEqual([second!.object.fileName]);
  });

  it('keepLocal: false writes only to the bucket; a bucket that fails keeps the segment in the spool until it answers', async () => {
    const dir = tempDir();
    const spool = tempDir();
    const archive = archiveIn(dir, 'only', false);
    const shipper = new WalShipper(archive, { compression: { algorithm: 'zstd' }, encryption: undefined, remotePartialEveryMs: 0 });
    await shipper.load();
    const file = path.join(spool, SEGMENTS[0]!);
    writeFileSync(file, randomBytes(8192));
    s3.proxy.down();
    try {
      shipper.beginRound();
      expect((await shipper.shipFinished(file, SEGMENTS[0]!, null)).complete).toBe(false);
      expect(shipper.remoteOutcome).toBeInstanceOf(Error);
    } finally {
      s3.proxy.heal();
    }
    shipper.beginRound();
    expect((await shipper.shipFinished(file, SEGMENTS[0]!, null)).complete).toBe(true);
    expect(shipper.remoteOutcome).toBe('ok');
    const each = await archive.listEach();
    expect(each.map((e) => e.objects.length)).toEqual([0, 1]);
    expect(readdirSync(archive.local.dir)).toEqual([]); // no temporary left behind
  });
  it('a listing taken while the segment in progress is replaced, or finished, still holds it, in both stores', async () => {
    const dir = tempDir();
    const spool = tempDir();
    const archive = archiveIn(dir, 'race', true);
    const shipper = new WalShipper(archive, { compression: { algorithm: 'none' }, encryption: undefined, remotePartialEveryMs: 0 });
    await shipper.load();
    shipper.beginRound();
    const segment = (i: number) => `00000001000000000000${(16 + i).toString(16).toUpperCase().padStart(4, '0')}`;
    const at = (i: number, j: number) => new Date(Date.UTC(2026, 0, 1, 0, i, j)).toISOString();
    const ship = async (i: number, j: number) => {
      const file = path.join(spool, j < 4 ? `${segment(i)}.partial` : segment(i));
      writeFileSync(file, randomBytes(2048));
      const coverage = { at: at(i, j), lsn: `0/${(i + 16).toString(16).toUpperCase()}0000${j}0` };
      if (j < 4) await shipper.shipPartial(file, segment(i), coverage);
      else await shipper.shipFinished(file, segment(i), coverage);
    };
    await ship(0, 0);
    // Segments in progress replaced four times, then finished, until the reader has listed 20 times (every 50 ms:
    // ten times as often as serve's fastest round).
    let listings = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        for (let j = 0; j < 5; j++) {
          await ship(i, j);
          await sleep(50);
        }
      }
    })();
    // Each listing: no problem, at most one segment in progress, and the newest moment covered never goes back.
    const newestSeen = ['', ''];
    try {
      for (; listings < 20; listings++) {
        for (const [i, { objects, problems }] of (await archive.listEach()).entries()) {
          expect(problems).toEqual([]);
          expect(objects.filter((o) => o.object.partial).length).toBeLessThanOrEqual(1);
          const newest = objects.map((o) => o.object.coverage!.at).sort().at(-1) ?? '';
          expect(newest >= newestSeen[i]!).toBe(true);
          newestSeen[i] = newest;
        }
      }
    } finally {
      stop = true;
      await writer;
    }
  });
});
