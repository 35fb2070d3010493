import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { RowStream, SchemaTable } from '../engines/types.js';
import { UsageError } from '../errors.js';
import { type ExportQueries, quoteIdent } from './export-plan.js';
import { type ExportRules, REDACTED, treatTable } from './export-redaction.js';

export type ExportFormat = 'json' | 'ndjson';

export interface DocumentInput {
  format: ExportFormat;
  queries: ExportQueries;
  subjectTable: SchemaTable;
  tables: Map<string, SchemaTable>;
  rules: ExportRules;
  exportedAt: string;
  database: { name: string; engine: string };
  signal?: AbortSignal | undefined;
}

/** Rows per table, references, and the `table.column` of every redacted column. */
export interface Written {
  counts: Record<string, number>;
  references: number;
  redacted: string[];
}

/** Streams the document to `file`, row by row. */
export async function writeDocument(rows: RowStream, file: string, input: DocumentInput): Promise<Written> {
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
