import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { type DatabaseTarget, databaseName } from '../config/database-url.js';
import { engineFor, engineTraits } from '../engines/index.js';
import type { DatabaseEngine, RowStream, SchemaTable } from '../engines/types.js';
import { DbguardError, UsageError } from '../errors.js';
import { type Compression, availableCompression, compressionExtension } from '../pipeline/compression.js';
import { type EncryptionKeys, hasEncryptionKeys, validateRecipients } from '../pipeline/encryption.js';
import { commitFile } from '../storage/fs-atomic.js';
import { LocalBackupStore } from '../storage/local-store.js';
import { type BackupManifest, MANIFEST_SCHEMA_VERSION, type StoredBackup } from '../storage/manifest.js';
import { DBGUARD_VERSION } from '../version.js';
import { writeDump } from './backup.js';
import { DEFAULT_BACKUP_DIR } from './defaults.js';
import { type ExportQueries, type SqlDialect, exportQueries, planExport, quoteIdent, unindexedForeignKeys } from './export-plan.js';
import { type ExportRules, REDACTED, treatTable } from './export-redaction.js';
import { parseSubject, resolveSubjectTable, subjectKey } from './export-subject.js';
import { backupIdCandidates } from './ids.js';

export type ExportFormat = 'json' | 'ndjson';

export interface ExportOptions {
  target: DatabaseTarget;
  /** `<table>=<key>`: `users=42`, `'"User"=ck8x…'`, `auth.users=7`, `order_lines=order_id:1,line:2`. */
  subject: string;
  format?: ExportFormat | undefined;
  /** Also write the plain document here (for the person), atomically. */
  out?: string | undefined;
  /** Backups folder; `./backups` by default. The export is stored in its `export` folder. */
  dir?: string | undefined;
  label?: string | undefined;
  /** zstd by default. */
  compression?: Compression | undefined;
  encryption?: EncryptionKeys | undefined;
  /** Redaction and exclusions (`export` in the configuration). */
  rules?: ExportRules | undefined;
  onWarning?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  now?: (() => Date) | undefined;
  engine?: DatabaseEngine | undefined;
}

export interface ExportResult extends StoredBackup {
  /** The plain copy, when `out` was given. */
  out: string | null;
  /** `table.column` of every redacted column. */
  redacted: string[];
  /** Foreign keys without an index, which the export had to scan for. */
  warnings: string[];
}

/**
 * Exports every row that belongs to one subject (see export-plan.ts), from one snapshot, streamed to a file: stored
 * as an `export` backup (compressed, encrypted, checksummed like any backup) and optionally as a plain file.
 * An unknown table or key, or a subject table without a primary key, is a usage error and nothing is written.
 */
export async function exportSubject(options: ExportOptions): Promise<ExportResult> {
  const engine = options.engine ?? engineFor(options.target);
  const format = options.format ?? 'json';
  const warn = options.onWarning ?? (() => {});
  const spec = parseSubject(options.subject);
  if (!engineTraits(engine.kind).exportable) throw new UsageError(`dbguard export does not support ${engine.kind} databases yet.`);
  const { serverVersion } = await engine.probe();
  const schema = await engine.describeSchema();
  const subjectTable = resolveSubjectTable(spec, schema.tables);
  const key = subjectKey(subjectTable, spec.key);
  const plan = planExport(schema, subjectTable.id);
  const rules = options.rules ?? {};
  const excluded = new Set(schema.tables.filter((t) => treatTable(t, rules).excluded).map((t) => t.id));
  const queries = exportQueries(plan, engine.kind as SqlDialect, key, excluded);
  const warnings = unindexedForeignKeys(plan).map(
    (fk) => `${fk.table}(${fk.columns.join(', ')}) references ${fk.references.table} without an index: the export scans ${fk.table}.`,
  );
  warnings.forEach(warn);

  const encryption = hasEncryptionKeys(options.encryption) ? { ...options.encryption, recipients: validateRecipients(options.encryption.recipients) } : undefined;
  const compression = await availableCompression(options.compression ?? { algorithm: 'zstd' }, warn);
  const store = new LocalBackupStore(path.resolve(options.dir ?? DEFAULT_BACKUP_DIR));
  const createdAt = (options.now ?? (() => new Date()))();
  const extension = `.export.${format}${compressionExtension(compression.algorithm)}${encryption ? '.age' : ''}`;
  const reservation = await store.reserve('export', backupIdCandidates(databaseName(options.target), createdAt, options.label), extension);
  const outPartial = options.out ? `${path.resolve(options.out)}.partial` : undefined;
  const started = performance.now();
  try {
    const tables = schemaTables(schema.tables);
    const written = await engine.readSnapshot((rows) =>
      writeDocument(rows, reservation.scratchPath, {
        format,
        queries,
        subjectTable,
        tables,
        rules,
        exportedAt: createdAt.toISOString(),
        database: { name: engine.identity().name, engine: engine.kind },
        signal: options.signal,
      }),
    );
    if (outPartial) await fs.copyFile(reservation.scratchPath, outPartial);
    const { sha256, size } = await writeDump({ kind: 'file', path: reservation.scratchPath, tables: written.counts }, { kind: 'file', path: reservation.partialPath }, compression, encryption, {
      signal: options.signal,
    });
    const manifest: BackupManifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      id: reservation.id,
      type: 'export',
      label: options.label ?? null,
      description: null,
      createdAt: createdAt.toISOString(),
      engine: engine.kind,
      serverVersion,
      database: engine.identity(),
      format: format === 'json' ? 'export-json' : 'export-ndjson',
      compression: compression.algorithm,
      encryption: encryption ? { algorithm: 'age', recipients: encryption.recipients, passphrase: encryption.recipients.length === 0 } : null,
      fileName: reservation.fileName,
      size,
      sha256,
      tables: written.counts,
      durationMs: Math.round(performance.now() - started),
      dbguardVersion: DBGUARD_VERSION,
      subject: { table: subjectTable.id, references: written.references },
    };
    options.signal?.throwIfAborted();
    if (outPartial) await commitFile(outPartial, path.resolve(options.out!));
    const stored = await store.commit(reservation, manifest);
    return { ...stored, out: options.out ? path.resolve(options.out) : null, redacted: written.redacted, warnings };
  } catch (error) {
    await store.release(reservation);
    if (outPartial) await fs.rm(outPartial, { force: true });
    if (options.signal?.aborted) throw new DbguardError('Export cancelled; nothing was kept.');
    throw error;
  }
}

function schemaTables(tables: SchemaTable[]): Map<string, SchemaTable> {
  return new Map(tables.map((t) => [t.id, t]));
}

interface DocumentInput {
  format: ExportFormat;
  queries: ExportQueries;
  subjectTable: SchemaTable;
  tables: Map<string, SchemaTable>;
  rules: ExportRules;
  exportedAt: string;
  database: { name: string; engine: string };
  signal: AbortSignal | undefined;
}

/** Streams the document to `file`, row by row; returns the row count per table and what was redacted. */
async function writeDocument(
  rows: RowStream,
  file: string,
  input: DocumentInput,
): Promise<{ counts: Record<string, number>; references: number; redacted: string[] }> {
  const subjectRow = await first(rows(input.queries.subject)).then((batch) => batch?.[0]).catch((error: { code?: string }) => {
    // PostgreSQL: the key is not a value of the key column's type (invalid text, a number out of range).
    if (error.code?.startsWith('22')) {
      throw new UsageError(`That key is not a valid value of ${input.subjectTable.id}'s primary key (${input.subjectTable.primaryKey.join(', ')}): ${(error as Error).message}.`);
    }
    throw error;
  });
  if (!subjectRow) {
    throw new UsageError(`No row of ${input.subjectTable.id} has that key.`, `Check the key; ${input.subjectTable.id}'s primary key is (${input.subjectTable.primaryKey.join(', ')}).`);
  }
  const treatments = input.queries.rows.map((q) => ({ query: q, table: input.tables.get(q.table)!, ...treatTable(input.tables.get(q.table)!, input.rules) }));
  const redacted = treatments.flatMap((t) => t.columns.filter((c) => c.redacted).map((c) => `${t.table.id}.${c.name}`));
  const excluded = input.rules.exclude ?? [];
  const header = {
    format: 'dbguard-export',
    formatVersion: 1,
    subject: { table: input.subjectTable.id, key: jsonRow(subjectRow) },
    exportedAt: input.exportedAt,
    database: input.database,
    redacted,
    excluded,
  };

  const out = createWriteStream(file, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
  const closed = once(out, 'close');
  out.on('error', () => {}); // surfaced by `once(out, 'drain')` and `closed`
  const batch = new Batch(out);
  const write = async (text: string) => {
    if (batch.add(text)) await batch.flush();
  };
  const counts: Record<string, number> = {};
  let references = 0;
  const ndjson = input.format === 'ndjson';
  try {
    const head = JSON.stringify(header);
    await write(ndjson ? `${JSON.stringify({ type: 'header', ...header })}\n` : `${head.slice(0, -1)},\n"tables": {`);
    let firstTable = true;
    for (const { query, table, columns } of treatments) {
      counts[table.id] = 0;
      if (!ndjson) await write(`${firstTable ? '' : ','}\n  ${JSON.stringify(table.id)}: [`);
      firstTable = false;
      const select = `SELECT ${columns.map((c) => (c.redacted ? `NULL AS ${quoteIdent(c.name)}` : `e.${quoteIdent(c.name)}`)).join(', ')} FROM (${query.sql}) e`;
      for await (const batchOfRows of rows(columns.length > 0 ? select : query.sql)) {
        input.signal?.throwIfAborted();
        for (const row of batchOfRows) {
          const value = jsonRow(row);
          for (const c of columns) if (c.redacted) value[c.name] = REDACTED;
          if (columns.length === 0) for (const k of Object.keys(value)) delete value[k];
          const line = ndjson ? `${JSON.stringify({ type: 'row', table: table.id, row: value })}\n` : `${counts[table.id] === 0 ? '' : ','}\n    ${JSON.stringify(value)}`;
          if (batch.add(line)) await batch.flush();
          counts[table.id]!++;
        }
      }
      if (!ndjson) await write(counts[table.id] === 0 ? ']' : '\n  ]');
    }
    if (!ndjson) await write('\n},\n"references": [');
    for (const query of input.queries.references) {
      for await (const batchOfRows of rows(query.sql)) {
        for (const row of batchOfRows) {
          const reference = { table: query.table, key: jsonRow(row) };
          const line = ndjson ? `${JSON.stringify({ type: 'reference', ...reference })}\n` : `${references === 0 ? '' : ','}\n  ${JSON.stringify(reference)}`;
          if (batch.add(line)) await batch.flush();
          references++;
        }
      }
    }
    if (!ndjson) await write(references === 0 ? ']' : '\n]');
    await write(ndjson ? `${JSON.stringify({ type: 'summary', rows: counts, references })}\n` : `,\n"rowCounts": ${JSON.stringify(counts)}\n}\n`);
    await batch.flush();
    out.end();
    await closed;
  } catch (error) {
    out.destroy();
    await closed.catch(() => {});
    throw error;
  }
  return { counts, references, redacted };
}

/** Joins small strings into writes of about 256 kB: one buffer per write, not one per row. */
class Batch {
  private parts: string[] = [];
  private length = 0;

  constructor(private readonly out: Writable) {}

  /** True when the batch is full and should be flushed. */
  add(text: string): boolean {
    this.parts.push(text);
    this.length += text.length;
    return this.length >= 1 << 18;
  }

  /** Writes the batch, waiting while the file is behind (an error of the stream rejects). */
  async flush(): Promise<void> {
    if (this.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.length = 0;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
}

async function first<T>(iterable: AsyncIterable<T>): Promise<T | undefined> {
  for await (const item of iterable) return item;
  return undefined;
}

/** Bytes as base64, dates as ISO 8601, big integers as strings: JSON that says what the database holds. */
function jsonRow(row: Record<string, unknown>): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [column, v] of Object.entries(row)) value[column] = jsonValue(v);
  return value;
}

function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonValue);
  return v;
}
