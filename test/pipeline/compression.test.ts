import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { chain } from '../../src/core/codec.js';
import { createCompressor, createDecompressor } from '../../src/pipeline/compression.js';

const MB = 1 << 20;

async function zstdOf(data: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(Readable.from([data]), (await createCompressor({ algorithm: 'zstd' }))!, async function* (source) {
    for await (const part of source) parts.push(part as Buffer);
  });
  return Buffer.concat(parts);
}

describe('zstd decompression', () => {
  it('holds back its output until the reader asks for it, at any compression ratio', async () => {
    const plain = Buffer.alloc(64 * MB, 'x');
    const compressed = await zstdOf(plain);
    expect(compressed.length).toBeLessThan(MB); // one input chunk that expands 64 MB

    const decompressor = (await createDecompressor('zstd'))!;
    decompressor.end(compressed);
    // Nobody reads: what waits in memory is at most a few output buffers, not the whole expansion.
    for (let i = 0; i < 10; i++) await new Promise(setImmediate);
    expect(decompressor.readableLength).toBeLessThan(2 * MB);

    let total = 0;
    let same = true;
    decompressor.on('data', (chunk: Buffer) => {
      same &&= chunk.every((byte) => byte === 0x78);
      total += chunk.length;
    });
    await once(decompressor, 'end');
    expect(total).toBe(plain.length);
    expect(same).toBe(true);
  });

  it('reports input that ends in the middle of a frame', async () => {
    const compressed = await zstdOf(Buffer.alloc(4 * MB, 'y'));
    const decompressor = (await createDecompressor('zstd'))!;
    const reading = pipeline(Readable.from([compressed.subarray(0, compressed.length - 8)]), decompressor, async function* (source) {
      for await (const _ of source);
    });
    await expect(reading).rejects.toThrow(/ended in the middle/);
  });

  it('a pipeline through it settles when its reader goes away while it waits for input (pg_restore --list ending early)', async () => {
    const compressed = await zstdOf(Buffer.alloc(4 * MB, 'z'));
    const file = new PassThrough();
    file.write(compressed.subarray(0, compressed.length >> 1)); // more is still to come when the reader leaves
    const reader = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const feeding = pipeline(chain(file, (await createDecompressor('zstd'))!), reader);
    for (let i = 0; i < 10; i++) await new Promise(setImmediate);
    reader.destroy(); // what a child's stdin does when the child exits
    const settled = await Promise.race([feeding.then(() => 'resolved', (error: NodeJS.ErrnoException) => error.code), new Promise((resolve) => setTimeout(resolve, 5000, 'still waiting'))]);
    expect(settled).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(file.destroyed).toBe(true);
  });

  it('delivers everything to a slow reader, chunk after chunk (input chunks that end without output included)', async () => {
    // Text that compresses ~10x read in 64 kB chunks: some chunks end just after a full output buffer, and their
    // last step yields nothing (what a base backup's tar did).
    const plain = Buffer.from(Array.from({ length: 600_000 }, (_, i) => ['alpha', 'beta', 'gamma', 'delta', String(i)][(i * 7919) % 5]).join(' '));
    const compressed = await zstdOf(plain);
    const chunks = Array.from({ length: Math.ceil(compressed.length / 65536) }, (_, i) => compressed.subarray(i * 65536, (i + 1) * 65536));
    let received = 0;
    const slow = new Writable({ highWaterMark: 1024, write: (chunk: Buffer, _encoding, callback) => { received += chunk.length; setImmediate(callback); } });
    const decompressor = chain(Readable.from(chunks), (await createDecompressor('zstd'))!);
    decompressor.pipe(slow);
    const settled = await Promise.race([once(slow, 'finish').then(() => 'finished'), new Promise((resolve) => setTimeout(resolve, 10_000, 'stalled'))]);
    expect(settled).toBe('finished');
    expect(received).toBe(plain.length);
  });

  it('writes zstd\'s checksum into every frame: damaged content fails to decompress, here and with `zstd -t` by hand', async () => {
    const plain = Buffer.from(Array.from({ length: 600_000 }, (_, i) => ['alpha', 'beta', String(i)][(i * 7919) % 3]).join(' '));
    const compressed = await zstdOf(plain);
    expect(spawnSync('zstd', ['-t', '-q'], { input: compressed }).status).toBe(0);
    // Bytes early in the first block: its literals, which zstd's block format alone does not check.
    const damaged = Buffer.from(compressed);
    for (let i = 100; i < 164; i++) damaged[i]! ^= 0x5a;
    const reading = pipeline(Readable.from([damaged]), (await createDecompressor('zstd'))!, async function* (source) {
      for await (const _ of source);
    });
    await expect(reading).rejects.toThrow(/checksum/i);
    expect(spawnSync('zstd', ['-t', '-q'], { input: damaged }).status).not.toBe(0);
  });
});
