import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PART_SIZE, PartBuffers, fillParts, partSizeFor } from '../src/storage/s3-multipart.js';

describe('multipart uploads', () => {
  it('cuts a stream into parts of exactly the part size, the last one shorter, reusing a fixed set of buffers', async () => {
    const input = Buffer.alloc(10_000);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7) % 251;
    const chunks = [1, 999, 2500, 3, 4000, 1497, 1000].map((n, i, all) => input.subarray(all.slice(0, i).reduce((a, b) => a + b, 0), all.slice(0, i + 1).reduce((a, b) => a + b, 0)));
    const buffers = new PartBuffers(1024, 2);
    const seen = new Set<ArrayBufferLike>();
    const out: Buffer[] = [];
    for await (const part of fillParts(Readable.from(chunks), buffers)) {
      seen.add(part.data.buffer);
      out.push(Buffer.from(part.data)); // copied: the buffer is handed out again once released
      part.release();
    }
    expect(out.map((p) => p.length)).toEqual([...Array(9).fill(1024), 10_000 - 9 * 1024]);
    expect(Buffer.concat(out).equals(input)).toBe(true);
    expect(seen.size).toBeLessThanOrEqual(2);
  });

  it('ends with an empty part when the size is a multiple of the part size, and waits for a buffer to come back', async () => {
    const buffers = new PartBuffers(4, 1);
    const parts = fillParts(Readable.from([Buffer.from('abcdefgh')]), buffers);
    const first = (await parts.next()).value!;
    expect(first.data.toString()).toBe('abcd');
    let second: { data: Buffer; release(): void } | undefined;
    const next = parts.next().then((r) => (second = r.value!));
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBeUndefined(); // the only buffer is still out
    first.release();
    await next;
    expect(second!.data.toString()).toBe('efgh');
    second!.release();
    expect((await parts.next()).value!.data.length).toBe(0);
  });

  it('a failed part stops the reading', async () => {
    const buffers = new PartBuffers(4, 1);
    const parts = fillParts(Readable.from([Buffer.from('abcdefgh')]), buffers);
    await parts.next();
    const waiting = parts.next();
    buffers.fail(new Error('part 1 refused'));
    await expect(waiting).rejects.toThrow('part 1 refused');
  });

  it('picks a larger part size only when 10,000 parts of the default would not hold the object', () => {
    expect(partSizeFor(undefined)).toBe(PART_SIZE);
    expect(partSizeFor(5 * 1024 ** 3)).toBe(PART_SIZE);
    const huge = 200 * 1024 ** 3;
    expect(partSizeFor(huge) * 10_000).toBeGreaterThanOrEqual(huge);
    expect(partSizeFor(huge) % (1024 * 1024)).toBe(0);
  });
});
