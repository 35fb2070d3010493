import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DumpRowCounter, dumpCompleted } from '../src/engines/mysql-dump-counter.js';

const DUMP = [
  '-- MariaDB dump 10.19',
  '--',
  '-- Table structure for table `a``b`',
  '--',
  'CREATE TABLE `a``b` (id int, s text);',
  "INSERT INTO `a``b` VALUES (1,'it\\'s ),( not a row'),(2,'back\\\\'),(3,NULL);",
  '-- Table structure for table `empty`',
  'CREATE TABLE `empty` (id int);',
  '-- Table structure for table `wide`',
  'INSERT INTO `wide` VALUES',
  "(1,0x28290A3B,'line\\nbreak ( ; '),",
  "(2,0x00,'ünïcødé 🎉 (x)');",
  "INSERT INTO `wide` VALUES (3,0x00,'a;b');",
  '/*!50001 CREATE VIEW `v` AS SELECT 1 AS `x` */;',
  '-- Dump completed on 2026-11-30',
  '',
].join('\n');

async function count(chunkSize: number): Promise<DumpRowCounter> {
  const bytes = Buffer.from(DUMP);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const counter = new DumpRowCounter();
  let passed = Buffer.alloc(0);
  await pipeline(Readable.from(chunks), counter, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) passed = Buffer.concat([passed, chunk]);
  });
  expect(passed.equals(bytes)).toBe(true);
  return counter;
}

describe('row counts read from a mysqldump/mariadb-dump stream', () => {
  it.each([1, 2, 7, 64, 1 << 20])('counts every tuple outside strings, whatever the chunk size (%i)', async (size) => {
    const counter = await count(size);
    expect(counter.tables).toEqual({ 'a`b': 3, empty: 0, wide: 3 });
    expect(dumpCompleted(counter.tail)).toBe(true);
  });

  it('a dump cut short lacks the closing line', () => {
    expect(dumpCompleted(DUMP.slice(0, DUMP.indexOf('-- Dump completed')))).toBe(false);
  });
});
