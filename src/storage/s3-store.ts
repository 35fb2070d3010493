import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { DbguardError, UsageError } from '../errors.js';
import { ensurePrivateDir, isProcessAlive, writeFileAtomic } from './fs-atomic.js';
import { BACKUP_TYPES, type BackupManifest, type BackupType, type StoredBackup, parseManifest } from './manifest.js';
import type { StoreProblem } from './local-store.js';
import { MultipartUpload, PartBuffers, QUEUE_SIZE, fillParts, partSizeFor } from './s3-multipart.js';

/** A bucket (and prefix) on AWS S3 or an S3-compatible service. Credentials come from the AWS SDK's chain only. */
export interface RemoteLocation {
  bucket: string;
  /** Folder inside the bucket, without leading or trailing slash; '' for the bucket's root. */
  prefix: string;
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number } | undefined;
}

export interface UploadOptions {
  /** Known for a local file: sent as the object's checksum (single-part uploads) and kept as metadata. */
  sha256?: string | undefined;
  size?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((bytes: number) => void) | undefined;
}

const DOWNLOAD_ATTEMPTS = 5;
const LIST_CONCURRENCY = 8;

/**
 * Backups in a bucket, laid out as the local folder is: `<prefix>/<type>/<file>` and `<prefix>/<type>/<id>.json`.
 * Every object is written once, data first and the manifest last, so a backup without a manifest does not exist
 * here either, and every object can carry an Object Lock.
 */
export class S3BackupStore {
  readonly location = 'remote' as const;
  private clientPromise: Promise<S3Client> | undefined;
  /** Multipart uploads this process started and has not finished, by key. */
  private readonly multipart = new Map<string, { uploadId: string; file: string }>();

  /** `journalDir`: a local folder where multipart uploads in flight are noted, so an interrupted one is aborted later. */
  constructor(
    readonly remote: RemoteLocation,
    private readonly journalDir: string,
  ) {}

  get display(): string {
    return `s3://${this.remote.bucket}${this.remote.prefix ? `/${this.remote.prefix}` : ''}`;
  }

  dataKey(type: BackupType, fileName: string): string {
    return [this.remote.prefix, type, fileName].filter(Boolean).join('/');
  }

  manifestKey(type: BackupType, id: string): string {
    return this.dataKey(type, `${id}.json`);
  }

  /** Lists at most one object: the bucket exists, answers, and the credentials may list it. */
  async probe(): Promise<void> {
    const client = await this.client();
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    try {
      await client.send(new ListObjectsV2Command({ Bucket: this.remote.bucket, Prefix: this.remote.prefix ? `${this.remote.prefix}/` : undefined, MaxKeys: 1 }));
    } catch (error) {
      throw describeS3Error(error, this.remote);
    }
  }

  /** Every complete backup in the bucket (newest first), and objects that are not part of one. */
  async list(): Promise<{ backups: StoredBackup[]; problems: StoreProblem[] }> {
    const objects = new Map<string, number>();
    for (const type of BACKUP_TYPES) {
      for (const object of await this.listObjects(`${[this.remote.prefix, type].filter(Boolean).join('/')}/`)) objects.set(object.key, object.size);
    }
    const manifestKeys = [...objects.keys()].filter((key) => key.endsWith('.json'));
    const backups: StoredBackup[] = [];
    const problems: StoreProblem[] = [];
    const claimed = new Set<string>();
    await forEachLimited(manifestKeys, LIST_CONCURRENCY, async (manifestKey) => {
      claimed.add(manifestKey);
      try {
        const manifest = parseManifest(JSON.parse(await this.readText(manifestKey)));
        const key = this.dataKey(manifest.type, manifest.fileName);
        claimed.add(key);
        const size = objects.get(key);
        if (size === undefined) problems.push({ file: this.url(manifestKey), problem: `its data object ${manifest.fileName} is missing` });
        else backups.push({ manifest, file: key, manifestPath: manifestKey, location: 'remote' });
      } catch (error) {
        problems.push({ file: this.url(manifestKey), problem: `unreadable manifest (${describeS3Error(error, this.remote).message})` });
      }
    });
    for (const key of objects.keys()) {
      if (!claimed.has(key)) problems.push({ file: this.url(key), problem: 'no manifest: an incomplete upload, not listed' });
    }
    backups.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt) || b.manifest.id.localeCompare(a.manifest.id));
    return { backups, problems };
  }

  /** The manifest of backup `id` of `type`, or undefined when the bucket has none. */
  async findManifest(type: BackupType, id: string): Promise<BackupManifest | undefined> {
    try {
      return parseManifest(JSON.parse(await this.readText(this.manifestKey(type, id))));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw describeS3Error(error, this.remote);
    }
  }

  /**
   * Streams `body` into the object `key`: one PUT when it fits in a part, else a multipart upload of fixed-size parts
   * read into a few reused buffers (memory stays at `QUEUE_SIZE + 1` parts whatever the size). A failing source, a
   * failed part or a cancellation aborts the multipart upload; if even that fails (the network is down), the
   * journal lets the next run abort it.
   */
  async upload(key: string, body: Readable | Buffer, options: UploadOptions = {}): Promise<{ lockedUntil: string | null }> {
    const client = await this.client();
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const lockedUntil = this.remote.objectLock ? new Date(Date.now() + this.remote.objectLock.days * 86_400_000) : null;
    const objectParams = {
      Bucket: this.remote.bucket,
      Key: key,
      ContentType: 'application/octet-stream',
      // SHA-256 of each part (or of the whole object when it fits in one): the server checks what it received.
      ChecksumAlgorithm: 'SHA256' as const,
      ...(options.sha256 ? { Metadata: { sha256: options.sha256 } } : {}),
      ...(lockedUntil ? { ObjectLockMode: this.remote.objectLock!.mode, ObjectLockRetainUntilDate: lockedUntil } : {}),
    };
    const buffers = Buffer.isBuffer(body) ? undefined : new PartBuffers(partSizeFor(options.size), QUEUE_SIZE + 1);
    const parts = buffers ? fillParts(body as Readable, buffers) : (async function* () { yield { data: body as Buffer, release() {} }; })();
    const multipart = new MultipartUpload(client, objectParams, buffers, {
      signal: options.signal,
      onProgress: options.onProgress,
      onCreated: (uploadId) => this.journalUpload(key, uploadId).catch(() => {}), // best effort: a lifecycle rule is the backstop
    });
    const onAbort = () => {
      buffers?.fail(options.signal!.reason);
      if (!Buffer.isBuffer(body)) body.destroy();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      options.signal?.throwIfAborted();
      const first = (await parts.next()).value!;
      if (!buffers || first.data.length < buffers.size) {
        // The whole object in one request; a local file's known SHA-256 makes the server check the bytes end to end.
        const sha256 = options.sha256 && options.size === first.data.length ? options.sha256 : createHash('sha256').update(first.data).digest('hex');
        await client.send(new PutObjectCommand({ ...objectParams, Body: first.data, ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64') }), { abortSignal: options.signal });
        first.release();
        options.onProgress?.(first.data.length);
      } else {
        await multipart.send(first);
        for await (const part of parts) {
          if (part.data.length > 0) await multipart.send(part);
          else part.release();
        }
        await multipart.complete();
        await this.forgetUpload(key);
      }
    } catch (error) {
      await parts.return(undefined);
      const started = await multipart.abandon();
      if (started && (await this.abortUpload(key, started))) await this.forgetUpload(key);
      if (options.signal?.aborted) throw new DbguardError('Upload cancelled; its parts were removed from the bucket.', { cause: error });
      if (!Buffer.isBuffer(body) && body.errored) throw body.errored as Error;
      throw describeS3Error(error, this.remote);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    return { lockedUntil: lockedUntil?.toISOString() ?? null };
  }

  /** Uploads the manifest: the backup exists remotely from here on. */
  async putManifest(manifest: BackupManifest, signal?: AbortSignal): Promise<void> {
    await this.upload(this.manifestKey(manifest.type, manifest.id), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { signal });
  }

  /**
   * The object's bytes as a stream. A connection that breaks part-way is resumed where it stopped (a ranged GET,
   * only of the same object version), up to a few times with backoff.
   */
  openData(stored: StoredBackup, options: { signal?: AbortSignal | undefined } = {}): Readable {
    const size = stored.manifest.remote?.size ?? stored.manifest.size;
    return Readable.from(this.readObject(stored.file, size, options.signal), { objectMode: false });
  }

  /** Deletes a backup: the manifest first, so an interruption leaves data that no longer lists. */
  async remove(stored: StoredBackup): Promise<void> {
    const client = await this.client();
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    try {
      await client.send(new DeleteObjectCommand({ Bucket: this.remote.bucket, Key: stored.manifestPath }));
      await client.send(new DeleteObjectCommand({ Bucket: this.remote.bucket, Key: stored.file }));
    } catch (error) {
      throw describeS3Error(error, this.remote);
    }
  }

  /** Aborts multipart uploads that an interrupted run (a dead process, a lost network) left in the bucket. */
  async abortInterruptedUploads(): Promise<string[]> {
    const aborted: string[] = [];
    for (const name of await fs.readdir(this.journalDir).catch(() => [] as string[])) {
      const file = path.join(this.journalDir, name);
      const entry = JSON.parse(await fs.readFile(file, 'utf8').catch(() => '{}')) as { pid?: number; key?: string; uploadId?: string; bucket?: string };
      if (!entry.key || !entry.uploadId || entry.bucket !== this.remote.bucket) continue;
      if (entry.pid && (entry.pid === process.pid || isProcessAlive(entry.pid))) continue; // still running
      if (await this.abortUpload(entry.key, entry.uploadId)) {
        await fs.rm(file, { force: true });
        aborted.push(entry.key);
      }
    }
    return aborted;
  }

  url(key: string): string {
    return `s3://${this.remote.bucket}/${key}`;
  }

  /** `<prefix>/<parts...>`: a key under the store's prefix. */
  key(...parts: string[]): string {
    return [this.remote.prefix, ...parts].filter(Boolean).join('/');
  }

  /** One object's bytes as a stream (resumed like `openData`); a missing object fails with code ENOENT. */
  openObject(key: string, size: number, signal?: AbortSignal): Readable {
    return Readable.from(this.readObject(key, size, signal), { objectMode: false });
  }

  /** The objects directly under `prefix/` (not deeper), with their sizes. */
  listFolder(prefix: string): Promise<Array<{ key: string; size: number }>> {
    return this.listObjects(`${prefix}/`);
  }

  /** A small object's text; undefined when it does not exist. */
  async readIfExists(key: string): Promise<string | undefined> {
    try {
      return await this.readText(key);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw describeS3Error(error, this.remote);
    }
  }

  async removeObject(key: string): Promise<void> {
    const client = await this.client();
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    try {
      await client.send(new DeleteObjectCommand({ Bucket: this.remote.bucket, Key: key }));
    } catch (error) {
      throw describeS3Error(error, this.remote);
    }
  }

  private async *readObject(key: string, size: number, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
    const client = await this.client();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    let offset = 0;
    let etag: string | undefined;
    for (let failures = 0; ; ) {
      try {
        const response = await client.send(
          new GetObjectCommand({
            Bucket: this.remote.bucket,
            Key: key,
            ...(offset > 0 ? { Range: `bytes=${offset}-`, IfMatch: etag } : {}),
          }),
          { abortSignal: signal },
        );
        etag ??= response.ETag;
        for await (const chunk of response.Body as Readable) {
          offset += (chunk as Buffer).length;
          failures = 0;
          yield chunk as Buffer;
        }
        if (offset >= size) return;
        throw Object.assign(new Error(`the download stopped at ${offset} of ${size} bytes`), { code: 'ECONNRESET' });
      } catch (error) {
        if (signal?.aborted) throw new DbguardError('Download cancelled.', { cause: error });
        if (isNotFound(error)) throw Object.assign(new DbguardError(`${this.url(key)} does not exist.`, { cause: error }), { code: 'ENOENT' });
        if (!isTransient(error) || ++failures >= DOWNLOAD_ATTEMPTS) throw describeS3Error(error, this.remote);
        await sleep(200 * 2 ** failures, undefined, { signal });
      }
    }
  }

  private async readText(key: string): Promise<string> {
    const client = await this.client();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const response = await client.send(new GetObjectCommand({ Bucket: this.remote.bucket, Key: key }));
    return response.Body!.transformToString('utf8');
  }

  private async listObjects(prefix: string): Promise<Array<{ key: string; size: number }>> {
    const client = await this.client();
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const objects: Array<{ key: string; size: number }> = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: this.remote.bucket, Prefix: prefix, ContinuationToken: token }));
        for (const object of page.Contents ?? []) {
          // Only files directly in the type's folder: a deeper key belongs to another prefix's layout.
          if (object.Key && !object.Key.slice(prefix.length).includes('/')) objects.push({ key: object.Key, size: object.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw describeS3Error(error, this.remote);
    }
    return objects;
  }

  /** Notes a multipart upload before its first part is sent, so that a run that dies leaves a trace to clean up. */
  private async journalUpload(key: string, uploadId: string): Promise<void> {
    const file = path.join(this.journalDir, `${process.pid}-${createHash('sha256').update(uploadId).digest('hex').slice(0, 32)}.json`);
    this.multipart.set(key, { uploadId, file });
    await ensurePrivateDir(this.journalDir);
    await writeFileAtomic(file, JSON.stringify({ pid: process.pid, bucket: this.remote.bucket, key, uploadId }));
  }

  private async forgetUpload(key: string): Promise<void> {
    const started = this.multipart.get(key);
    this.multipart.delete(key);
    if (started) await fs.rm(started.file, { force: true });
  }

  /** True when the upload is gone (aborted now, or already completed or aborted). */
  private async abortUpload(key: string, uploadId: string): Promise<boolean> {
    const client = await this.client();
    const { AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: this.remote.bucket, Key: key, UploadId: uploadId }));
      return true;
    } catch (error) {
      return isNotFound(error) || (error as { name?: string }).name === 'NoSuchUpload';
    }
  }

  private client(): Promise<S3Client> {
    this.clientPromise ??= createClient(this.remote);
    return this.clientPromise;
  }
}

async function createClient(remote: RemoteLocation): Promise<S3Client> {
  // The SDK warns on every Node 20 start that its 2027 releases need Node 22; users need not read that on each run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    ...(remote.endpoint ? { endpoint: remote.endpoint } : {}),
    region: remote.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: remote.forcePathStyle ?? false,
    maxAttempts: 5,
    // Checksums only where S3 requires them, plus the SHA-256 dbguard asks for: the SDK's default CRC32 trailers
    // are refused by several S3-compatible services.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
}

function errorName(error: unknown): string {
  const e = error as { name?: string; Code?: string; code?: string };
  return e?.Code ?? e?.name ?? e?.code ?? '';
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  return ['NoSuchKey', 'NotFound'].includes(errorName(error)) || statusOf(error) === 404 && errorName(error) !== 'NoSuchBucket';
}

const TRANSIENT_CODES = new Set(['aborted', 'socket hang up', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'EAI_AGAIN', 'TimeoutError', 'RequestTimeout', 'RequestTimeTooSkewed', 'SlowDown', 'InternalError', 'ServiceUnavailable', 'ERR_STREAM_PREMATURE_CLOSE']);

function isTransient(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; code?: string; message?: string };
  const status = statusOf(error);
  return [e?.Code, e?.name, e?.code, e?.message].some((v) => v !== undefined && TRANSIENT_CODES.has(v)) || (status !== undefined && (status >= 500 || status === 429));
}

/**
 * One clear line per failure, exit 2 for what the user must fix in the configuration (bucket, credentials,
 * permissions), 1 for the rest. The SDK's messages never hold the secret key, and neither does this.
 */
export function describeS3Error(error: unknown, remote: RemoteLocation): DbguardError {
  if (error instanceof DbguardError) return error;
  const name = errorName(error);
  const where = `s3://${remote.bucket}${remote.endpoint ? ` at ${remote.endpoint}` : ''}`;
  const message = (error as Error)?.message ?? String(error);
  if (name === 'NoSuchBucket') return new UsageError(`The bucket ${where} does not exist.`, 'Create it, or fix remote.url / DBGUARD_REMOTE.');
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new UsageError(`No AWS credentials for ${where}.`, 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or a container/instance role).');
  }
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken'].includes(name)) {
    return new UsageError(`The credentials were refused by ${where} (${name}).`, 'Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).');
  }
  if (name === 'AccessDenied' || statusOf(error) === 403) {
    return new UsageError(`Permission denied on ${where}: ${message}`, 'The credentials need s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload (README: "Remote storage").');
  }
  if (/object lock/i.test(message) || name === 'InvalidRetentionPeriod') {
    return new UsageError(`${where} refused the Object Lock request: ${message}`, 'Object Lock must be enabled on the bucket (at creation, with versioning), or remove remote.objectLock.');
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'TimeoutError', 'ETIMEDOUT'].includes(name) || ['ECONNREFUSED', 'ENOTFOUND'].includes((error as { code?: string })?.code ?? '')) {
    const reason = [(error as { code?: string })?.code, name, message].find((r) => r && r !== 'Error');
    return new DbguardError(`Cannot reach ${where}: ${reason ?? message}.`, { hint: 'Check the endpoint (remote.endpoint / DBGUARD_S3_ENDPOINT) and the network.', cause: error });
  }
  return new DbguardError(`${where}: ${name && !message.includes(name) ? `${name}: ` : ''}${message}`, { cause: error });
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
