/**
 * A real S3-compatible server (s3rver) on 127.0.0.1 with a bucket, behind a TCP proxy the tests control to cut
 * connections, slow them down or answer 503. The proxy is the endpoint dbguard talks to.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

export const S3_ACCESS_KEY = 'S3RVER';
/** A secret with characters that need care; s3rver accepts any secret for its key (allowMismatchedSignatures). */
export const S3_SECRET = 'S3cr3t+/Very=Secret!key-4711';

export interface S3Server {
  endpoint: string;
  /** s3rver's own port, without the proxy. */
  directEndpoint: string;
  bucket: string;
  dir: string;
  proxy: FaultProxy;
  /** Environment for a dbguard process using this bucket (prefix optional). */
  env(prefix?: string): Record<string, string>;
  /** Multipart uploads started and neither completed nor aborted (parts lying in the bucket). */
  pendingUploads(): string[];
  stop(): Promise<void>;
}

export async function startS3(bucket = 'dbguard-backups'): Promise<S3Server> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbguard-test-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    allowMismatchedSignatures: true,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  // s3rver lacks AbortMultipartUpload; S3's semantics are simple (the upload's parts are deleted), so add it.
  (server as unknown as { middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>> }).middleware.unshift(async (ctx, next) => {
    const uploadId = new URL(ctx.url, 'http://x').searchParams.get('uploadId');
    if (ctx.method !== 'DELETE' || !uploadId || !/^[0-9a-f]+$/.test(uploadId)) return next();
    const found = findUploadDirs(dir).find((d) => path.basename(d) === uploadId);
    if (!found) {
      ctx.status = 404;
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';
      return;
    }
    rmSync(found, { recursive: true, force: true });
    ctx.status = 204;
  });
  const address = (await server.run()) as { port: number };
  const proxy = await startProxy(address.port);
  const endpoint = `http://127.0.0.1:${proxy.port}`;
  return {
    endpoint,
    directEndpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    dir,
    proxy,
    env: (prefix = '') => ({
      DBGUARD_REMOTE: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
      DBGUARD_S3_ENDPOINT: endpoint,
      DBGUARD_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: S3_SECRET,
      AWS_REGION: 'us-east-1',
      AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
    }),
    pendingUploads: () => findUploadDirs(dir),
    async stop() {
      await proxy.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface KoaContext {
  method: string;
  url: string;
  status: number;
  body: unknown;
}

function findUploadDirs(root: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const full = path.join(d, entry.name);
      if (entry.name.endsWith('_S3rver_uploads')) found.push(full);
      else walk(full);
    }
  };
  walk(root);
  return found.flatMap((d) => readdirSync(d).map((id) => path.join(d, id)));
}

export interface FaultProxy {
  port: number;
  /** Cuts every connection once `bytes` more have gone to the server, and refuses new ones until `heal()`. */
  cutUploadsAfter(bytes: number): void;
  /** Cuts the connection carrying responses once `bytes` more have come from the server (once; later ones pass). */
  cutDownloadOnceAfter(bytes: number): void;
  /** Answers the next `count` requests with 503 Slow Down. */
  fail503(count: number): void;
  /** Waits `ms` before forwarding each chunk from the server. */
  slow(ms: number): void;
  /** Answers requests whose head matches `pattern` with this S3 error. */
  rejectMatching(pattern: RegExp, status: number, code: string, message: string): void;
  /** Refuses every connection. */
  down(): void;
  heal(): void;
  /** Raw request heads seen (method, path and headers), for tests of what was sent. */
  requests: string[];
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<FaultProxy> {
  let uploadBudget = Infinity;
  let downloadBudget = Infinity;
  let failing = 0;
  let delay = 0;
  let refusing = false;
  let rejecting: { pattern: RegExp; status: number; code: string; message: string } | undefined;
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  const cutAll = () => {
    for (const s of sockets) s.destroy();
  };
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (chunk: Buffer) => {
      const text = chunk.subarray(0, 2048).toString('latin1');
      if (/^(GET|PUT|POST|DELETE|HEAD) /.test(text)) {
        const head = text.split('\r\n\r\n')[0]!;
        requests.push(head);
        const error = failing > 0 ? { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' } : rejecting?.pattern.test(head) ? rejecting : undefined;
        if (error) {
          if (failing > 0) failing--;
          const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${error.code}</Code><Message>${error.message}</Message></Error>`;
          client.end(`HTTP/1.1 ${error.status} Error\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
          upstream.destroy();
          return;
        }
      }
      uploadBudget -= chunk.length;
      if (uploadBudget < 0) {
        refusing = true;
        uploadBudget = Infinity;
        cutAll();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      downloadBudget -= chunk.length;
      if (downloadBudget < 0) {
        downloadBudget = Infinity;
        client.destroy();
        upstream.destroy();
        return;
      }
      if (delay > 0) {
        upstream.pause();
        setTimeout(() => {
          client.write(chunk);
          upstream.resume();
        }, delay);
      } else client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cutUploadsAfter: (bytes) => (uploadBudget = bytes),
    cutDownloadOnceAfter: (bytes) => (downloadBudget = bytes),
    fail503: (count) => (failing = count),
    slow: (ms) => (delay = ms),
    rejectMatching: (pattern, status, code, message) => (rejecting = { pattern, status, code, message }),
    down: () => {
      refusing = true;
      cutAll();
    },
    heal: () => {
      refusing = false;
      uploadBudget = Infinity;
      downloadBudget = Infinity;
      failing = 0;
      delay = 0;
      rejecting = undefined;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}
