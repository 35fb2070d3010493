import { createReadStream } from 'node:fs';
import readline from 'node:readline';
import type { RestoreSource, TableCounts } from '../engines/types.js';
import { DbguardError } from '../errors.js';

/**
 * Reads a stored export to the end (decrypting and decompressing it) and counts its rows per table, one line at a
 * time: a row is one line in both formats (JSON strings never hold a raw newline), so memory stays flat.
 */
export async function checkExportFile(source: RestoreSource, format: 'export-json' | 'export-ndjson', signal?: AbortSignal): Promise<{ tables: TableCounts }> {
  const input = source.kind === 'file' ? createReadStream(source.path) : await source.open();
  const tables: TableCounts = {};
  let table: string | undefined;
  let ended = false;
  try {
    for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
      signal?.throwIfAborted();
      if (format === 'export-ndjson') {
        const record = JSON.parse(line) as { type?: string; table?: string };
        if (record.type === 'row') tables[record.table!] = (tables[record.table!] ?? 0) + 1;
        ended = record.type === 'summary';
        continue;
      }
      const heading = /^ {2}("(?:[^"\\]|\\.)*"): \[\]?$/.exec(line);
      if (heading) {
        table = JSON.parse(heading[1]!) as string;
        tables[table] = 0;
      } else if (line.startsWith('    {') && table !== undefined) {
        JSON.parse(line.replace(/,$/, ''));
        tables[table]!++;
      } else if (line === '}') ended = true;
    }
  } catch (error) {
    if (signal?.aborted || error instanceof DbguardError) throw error;
    throw new DbguardError(`The export is not readable: ${(error as Error).message}`);
  }
  if (!ended) throw new DbguardError('The export ends early: it is truncated.');
  return { tables };
}
