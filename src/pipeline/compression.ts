import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import os from 'node:os';
import zlib from 'node:zlib';
import { UsageError } from '../errors.js';
import { nativeFixCommand, nativeModuleError, nativeProblem } from '../platform.js';

export const COMPRESSION_ALGORITHMS = ['none', 'gzip', 'zstd'] as const;
export type CompressionAlgorithm = (typeof COMPRESSION_ALGORITHMS)[number];

export interface Compression {
  algorithm: CompressionAlgorithm;
  /** Algorithm default when undefined. */
  level?: number | undefined;
}

const LEVELS: Record<Exclude<CompressionAlgorithm, 'none'>, [number, number]> = { gzip: [1, 9], zstd: [1, 19] };

/** `none`, `gzip`, `gzip:9`, `zstd`, `zstd:19`. */
export function parseCompression(spec: string): Compression {
  const [name = '', levelText, ...rest] = spec.trim().toLowerCase().split(':');
  if (!(COMPRESSION_ALGORITHMS as readonly string[]).includes(name) || rest.length > 0) {
    throw new UsageError(`Unknown compression "${spec}".`, 'Use none, gzip, gzip:<1-9>, zstd or zstd:<1-19>.');
  }
  const algorithm = name as CompressionAlgorithm;
  if (levelText === undefined) return { algorithm };
  const level = Number(levelText);
  const range = algorithm === 'none' ? undefined : LEVELS[algorithm];
  if (!range || !Number.isInteger(level) || level < range[0] || level > range[1]) {
    throw new UsageError(`Invalid compression level in "${spec}".`, 'Use gzip:<1-9> or zstd:<1-19>; none takes no level.');
  }
  return { algorithm, level };
}

export function compressionExtension(algorithm: CompressionAlgorithm): string {
  return algorithm === 'gzip' ? '.gz' : algorithm === 'zstd' ? '.zst' : '';
}

type ZstdModule = typeof import('zstd-napi');
type ZstdBinding = typeof import('zstd-napi/binding.js');
let zstdModule: Promise<{ zstd: ZstdModule } | { error: unknown }> | undefined;

/** zstd-napi is a native addon: when its build is missing, zstd is unavailable (and says why) rather than a crash. */
export function loadZstdModule(): Promise<{ zstd: ZstdModule } | { error: unknown }> {
  zstdModule ??= import('zstd-napi').then(
    (zstd) => ({ zstd }),
    (error: unknown) => ({ error }),
  );
  return zstdModule;
}

async function loadZstd(): Promise<ZstdModule> {
  const loaded = await loadZstdModule();
  if ('error' in loaded) throw nativeModuleError('zstd-napi', loaded.error);
  return loaded.zstd;
}

/**
 * The compression actually used: zstd degrades to gzip (with a warning) when its native module is missing.
 */
export async function availableCompression(wanted: Compression, warn: (message: string) => void): Promise<Compression> {
  const loaded = wanted.algorithm === 'zstd' ? await loadZstdModule() : undefined;
  if (loaded === undefined || 'zstd' in loaded) return wanted;
  warn(`zstd is unavailable, compressing with gzip instead: zstd-napi's native module ${nativeProblem(loaded.error)}. Fix: ${nativeFixCommand('zstd-napi')}`);
  return { algorithm: 'gzip' };
}

/**
 * zstd compresses on its own threads, so the event loop keeps draining its input meanwhile. Beside a database tool
 * that produces the input (pg_dump), one thread, two when the machine has cores to spare beyond the tool's; for a
 * finished file (a SQLite snapshot) nothing else runs, and zstd gets every core, like `zstd -T0`. 4 MiB jobs instead
 * of zstd's default 8-16 MiB keep peak memory ~25 MB lower for a 0.2 % larger file (measured on the benchmark's
 * SQLite database).
 */
function zstdThreading(cores: 'spare' | 'all' | 'inline') {
  if (cores === 'inline') return {};
  const available = os.availableParallelism();
  return { nbWorkers: cores === 'all' ? available : Math.max(1, Math.min(2, available - 1)), jobSize: 4 << 20 };
}

/**
 * `cores`: `spare` when another process produces the input at the same time, `all` when the input is a file,
 * `inline` on the calling thread (small inputs such as WAL segments: no worker threads and their buffers).
 */
export async function createCompressor(compression: Compression, cores: 'spare' | 'all' | 'inline' = 'spare'): Promise<Transform | undefined> {
  switch (compression.algorithm) {
    case 'none':
      return undefined;
    case 'gzip':
      return zlib.createGzip({ level: compression.level ?? 6 });
    case 'zstd': {
      const zstd = await loadZstd();
      // zstd's checksum of the content in every frame: `zstd -t` checks a file without its manifest, and damaged
      // content fails to decompress instead of coming out wrong.
      return new zstd.CompressStream({ compressionLevel: compression.level ?? 3, checksumFlag: true, ...zstdThreading(cores) });
    }
  }
}

export async function createDecompressor(algorithm: CompressionAlgorithm): Promise<Duplex | undefined> {
  switch (algorithm) {
    case 'none':
      return undefined;
    case 'gzip':
      return zlib.createGunzip();
    case 'zstd': {
      await loadZstd();
      const { default: binding } = await import('zstd-napi/binding.js');
      return new ZstdDecompression(binding);
    }
  }
}

/**
 * zstd-napi's DecompressStream turns each input chunk into all of its output at once, whatever the reader has taken:
 * a 1 MiB chunk of a pg_dump archive full of repeated values became over 100 MB in memory. Here one output buffer at
 * a time, each handed on only when the reader asks for more, so memory stays flat at any compression ratio.
 * A Transform rather than `Duplex.from` over an async generator: on Node.js 22 and newer, such a duplex destroyed
 * while its generator waits for input never closes, and a pipeline through it never settles (a restore whose
 * `pg_restore --list` ended early was left waiting for nothing and exited with "unsettled top-level await").
 */
class ZstdDecompression extends Transform {
  private readonly dctx: InstanceType<ZstdBinding['DCtx']>;
  private readonly outputSize: number;
  private inFrame = false;
  /** The chunk being decompressed and its write's callback, while the reader has not taken all its output. */
  private input: Buffer | undefined;
  private written: TransformCallback | undefined;
  private decompressing = false;

  constructor(binding: ZstdBinding) {
    super();
    this.dctx = new binding.DCtx();
    this.outputSize = binding.dStreamOutSize();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.input = chunk;
    this.written = callback;
    this.decompress();
  }

  override _read(size: number): void {
    this.decompress();
    if (!this.input) super._read(size); // this chunk is done: the next write may come in
  }

  override _flush(callback: TransformCallback): void {
    callback(this.inFrame ? new Error('the compressed data ended in the middle of a frame (the file is truncated)') : undefined);
  }

  /** Until the reader has enough; a write that comes in while this runs (from finishing a chunk) joins the loop. */
  private decompress(): void {
    if (this.decompressing) return;
    this.decompressing = true;
    try {
      while (this.input) {
        const output = Buffer.allocUnsafe(this.outputSize);
        const [remaining, produced, consumed] = this.dctx.decompressStream(output, this.input);
        this.input = this.input.subarray(consumed);
        const wantsMore = produced > 0 ? this.push(output.subarray(0, produced)) : true;
        if (this.input.length === 0 && (produced < output.length || remaining === 0)) {
          this.inFrame = remaining !== 0;
          this.finishChunk();
        } else if (!wantsMore) return; // _read goes on when the reader asks for more
      }
    } catch (error) {
      this.finishChunk(error as Error);
    } finally {
      this.decompressing = false;
    }
  }

  private finishChunk(error?: Error): void {
    const written = this.written!;
    this.input = undefined;
    this.written = undefined;
    written(error);
  }
}
