import type { CompletedPart, CreateMultipartUploadCommandInput, S3Client } from '@aws-sdk/client-s3';
import { DbguardError } from '../errors.js';

// Multipart uploads on the SDK's own commands rather than @aws-sdk/lib-storage: lib-storage joins what it received
// into a new buffer for every part (Buffer.concat), and the process's memory grew with the object's size (bench/README.md).

const MiB = 1024 * 1024;
/** Bytes per part when the size is unknown (a dump streamed straight to the bucket): objects up to 80 GB. */
export const PART_SIZE = 8 * MiB;
/** Parts being sent while the next one fills. */
export const QUEUE_SIZE = 2;
/** S3 refuses more parts than this in one upload. */
const MAX_PARTS = 10_000;

/** The part size for an object of `size` bytes: PART_SIZE, or larger when PART_SIZE would need too many parts. */
export function partSizeFor(size: number | undefined): number {
  if (size === undefined) return PART_SIZE;
  return Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS / MiB) * MiB);
}

/**
 * A fixed number of part buffers, handed out and given back, allocated once: memory does not follow the object's
 * size, and the allocator never sees a new multi-megabyte buffer per part.
 */
export class PartBuffers {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private waiting: Array<() => void> = [];
  private failure: unknown;

  constructor(
    readonly size: number,
    private readonly count: number,
  ) {}

  /** A free buffer; waits while every buffer is in flight, and throws once a part has failed. */
  async take(): Promise<Buffer> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const buffer = this.free.pop() ?? (this.allocated < this.count ? (this.allocated++, Buffer.allocUnsafeSlow(this.size)) : undefined);
      if (buffer) return buffer;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  give(buffer: Buffer): void {
    this.free.push(buffer);
    this.wake();
  }

  fail(error: unknown): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    for (const resume of this.waiting.splice(0)) resume();
  }
}

export interface Part {
  data: Buffer;
  /** Gives the buffer back once the part is sent (or no longer needed). */
  release(): void;
}

/** Cuts `body` into parts of exactly `buffers.size` bytes (the last one shorter, possibly empty). */
export async function* fillParts(body: AsyncIterable<Buffer>, buffers: PartBuffers): AsyncGenerator<Part> {
  const part = (buffer: Buffer, length: number): Part => ({
    data: length === buffer.length ? buffer : buffer.subarray(0, length),
    release: () => buffers.give(buffer),
  });
  let buffer = await buffers.take();
  let filled = 0;
  for await (const chunk of body) {
    for (let offset = 0; offset < chunk.length; ) {
      const copied = chunk.copy(buffer, filled, offset);
      filled += copied;
      offset += copied;
      if (filled === buffer.length) {
        yield part(buffer, filled);
        buffer = await buffers.take();
        filled = 0;
      }
    }
  }
  yield part(buffer, filled);
}

/**
 * One multipart upload: created on the first part, parts sent concurrently (as many as there are buffers), each
 * with its SHA-256 checked by the server, completed in part order.
 */
export class MultipartUpload {
  private uploadId: Promise<string> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly completed: CompletedPart[] = [];
  private parts = 0;
  private sent = 0;

  constructor(
    private readonly client: S3Client,
    private readonly params: CreateMultipartUploadCommandInput & { Bucket: string; Key: string },
    private readonly buffers: PartBuffers | undefined,
    private readonly options: {
      signal?: AbortSignal | undefined;
      onProgress?: ((bytes: number) => void) | undefined;
      /** Called with the upload id before any part is sent. */
      onCreated: (uploadId: string) => Promise<void>;
    },
  ) {}

  async send(part: Part): Promise<void> {
    if (this.parts >= MAX_PARTS) {
      part.release();
      throw new DbguardError(`The backup is larger than ${MAX_PARTS} parts of ${this.buffers?.size ?? PART_SIZE} bytes, the most one S3 upload takes.`, {
        hint: 'Keep a local copy (remote.keepLocal: true): a copy of a local file picks its part size from the file size.',
      });
    }
    const { UploadPartCommand } = await import('@aws-sdk/client-s3');
    const UploadId = await (this.uploadId ??= this.create());
    const PartNumber = ++this.parts;
    const sending: Promise<void> = this.client
      .send(new UploadPartCommand({ Bucket: this.params.Bucket, Key: this.params.Key, UploadId, PartNumber, Body: part.data, ChecksumAlgorithm: 'SHA256' }), { abortSignal: this.options.signal })
      .then(
        (output) => {
          this.completed.push({ PartNumber, ETag: output.ETag, ChecksumSHA256: output.ChecksumSHA256 });
          this.sent += part.data.length;
          this.options.onProgress?.(this.sent);
        },
        (error: unknown) => {
          this.buffers?.fail(error);
          throw error;
        },
      )
      .finally(() => {
        this.inFlight.delete(sending);
        part.release();
      });
    sending.catch(() => {}); // reported by the next take() or by complete()
    this.inFlight.add(sending);
    if (!this.buffers) await sending;
  }

  async complete(): Promise<void> {
    const { CompleteMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    await Promise.all(this.inFlight);
    const Parts = [...this.completed].sort((a, b) => a.PartNumber! - b.PartNumber!);
    await this.client.send(
      new CompleteMultipartUploadCommand({ Bucket: this.params.Bucket, Key: this.params.Key, UploadId: await this.uploadId!, MultipartUpload: { Parts } }),
      { abortSignal: this.options.signal },
    );
  }

  /** Waits for the parts in flight to settle; the upload's id when one was created (to abort it). */
  async abandon(): Promise<string | undefined> {
    await Promise.allSettled(this.inFlight);
    return this.uploadId?.catch(() => undefined);
  }

  private async create(): Promise<string> {
    const { CreateMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    // Not cancellable: an upload created after a cancellation would be one whose id is unknown and cannot be aborted.
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand(this.params));
    if (!UploadId) throw new DbguardError(`The bucket did not return an upload id for ${this.params.Key}.`);
    await this.options.onCreated(UploadId);
    return UploadId;
  }
}
