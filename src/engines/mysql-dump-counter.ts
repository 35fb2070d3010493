import { Transform, type TransformCallback } from 'node:stream';
import type { TableCounts } from './types.js';

const TABLE_COMMENT = /^-- Table structure for table `((?:[^`]|``)+)`/;
const INSERT_HEAD = /^INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES$/;
const HEAD_LIMIT = 1024;
const [NEWLINE, QUOTE, BACKSLASH, OPEN, CLOSE, SEMICOLON] = [0x0a, 0x27, 0x5c, 0x28, 0x29, 0x3b];

/**
 * Counts the rows of each table in mysqldump/mariadb-dump output as it streams through, passing the bytes on
 * unchanged. Each table's section starts with a `-- Table structure for table` comment (so empty tables count as 0),
 * and its rows are the tuples `(...)` of `INSERT INTO \`t\` VALUES (...),(...);` statements. The tools write only
 * literals in those tuples (numbers, NULL, hex, quoted strings with backslash escapes), so a tuple starts at every
 * `(` outside a string at depth 0.
 */
export class DumpRowCounter extends Transform {
  readonly tables: TableCounts = {};
  /** The last bytes seen, as text: where the tool writes its closing line. */
  tail = '';
  private mode: 'head' | 'skip' | 'values' = 'head';
  private head: number[] = [];
  private table = '';
  private inString = false;
  private escaped = false;
  private depth = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const n = chunk.length;
    let i = 0;
    // Cached positions of the next quote and backslash: strings are skipped with indexOf, not byte by byte.
    let nextQuote = -1;
    let nextBackslash = -1;
    while (i < n) {
      if (this.mode === 'values') {
        if (this.inString) {
          if (this.escaped) {
            this.escaped = false;
            i++;
            continue;
          }
          if (nextQuote < i) nextQuote = chunk.indexOf(QUOTE, i) === -1 ? n : chunk.indexOf(QUOTE, i);
          if (nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i) === -1 ? n : chunk.indexOf(BACKSLASH, i);
          const next = Math.min(nextQuote, nextBackslash);
          if (next === n) break;
          if (next === nextBackslash) this.escaped = true;
          else this.inString = false;
          i = next + 1;
          continue;
        }
        i = this.outsideStrings(chunk, i);
        continue;
      }
      const byte = chunk[i]!;
      if (byte === NEWLINE && !(this.mode === 'head' && this.insertStarts())) {
        if (this.mode === 'head') this.lineEnded();
        this.mode = 'head';
        this.head = [];
      } else if (this.mode === 'head') {
        if (!(byte === 0x20 && this.insertStarts())) {
          this.head.push(byte);
          if (this.head.length > HEAD_LIMIT) this.mode = 'skip';
        }
      } else {
        // Skipping the rest of a line: jump to its end.
        const newline = chunk.indexOf(NEWLINE, i);
        i = newline === -1 ? n : newline;
        continue;
      }
      i++;
    }
    this.tail = (this.tail + chunk.subarray(-256).toString('latin1')).slice(-256);
    callback(null, chunk);
  }

  /** Reads tuple delimiters up to the next string (or the statement's end); returns where it stopped. */
  private outsideStrings(chunk: Buffer, from: number): number {
    let depth = this.depth;
    let rows = 0;
    let i = from;
    for (; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === QUOTE) {
        this.inString = true;
        i++;
        break;
      }
      if (byte === OPEN) {
        if (depth === 0) rows++;
        depth++;
      } else if (byte === CLOSE) depth--;
      else if (byte === SEMICOLON && depth === 0) {
        this.mode = 'skip';
        i++;
        break;
      }
    }
    this.depth = depth;
    this.tables[this.table]! += rows;
    return i;
  }

  /** At a space or newline: whether the line so far is `INSERT INTO \`t\` VALUES` (MariaDB puts a newline after it). */
  private insertStarts(): boolean {
    if (this.head[0] !== 0x49 /* I */ || this.head.length < 20 || this.head[this.head.length - 1] !== 0x53 /* S */) return false;
    const match = INSERT_HEAD.exec(Buffer.from(this.head).toString('utf8'));
    if (!match) return false;
    this.table = unquote(match[1]!);
    this.tables[this.table] ??= 0;
    this.mode = 'values';
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    return true;
  }

  private lineEnded(): void {
    if (this.head[0] !== 0x2d /* - */) return;
    const match = TABLE_COMMENT.exec(Buffer.from(this.head).toString('utf8'));
    if (match) this.tables[unquote(match[1]!)] ??= 0;
  }
}

function unquote(name: string): string {
  return name.replace(/``/g, '`');
}

/** Whether the dump tool wrote its closing line (a dump cut short lacks it). */
export function dumpCompleted(tail: string): boolean {
  return /-- Dump completed/.test(tail);
}
