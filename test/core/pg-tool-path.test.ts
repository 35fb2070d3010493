import { execFileSync } from 'node:child_process';
import { realpathSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findExecutable, pathDirs } from '../../src/engines/executables.js';
import { type PgTool, pgToolPath } from '../../src/engines/pg-tools.js';
import { tempDir } from '../harness/tmp.js';

const TOOLS: PgTool[] = ['pg_dump', 'pg_restore', 'psql', 'pg_basebackup', 'pg_receivewal'];
const version = (program: string, env: NodeJS.ProcessEnv = process.env) => execFileSync(program, ['--version'], { env, encoding: 'utf8' });

describe("the PostgreSQL tools' paths", () => {
  it("past Debian's pg_wrapper: the program the wrapper itself runs when PGHOST is set", () => {
    const wrapper = findExecutable('pg_dump', pathDirs(process.env))!;
    expect(path.basename(realpathSync(wrapper))).toBe('pg_wrapper'); // the machines the suite runs on are Debian's
    for (const tool of TOOLS) {
      const program = pgToolPath(tool);
      expect(program).toMatch(new RegExp(`^/usr/lib/postgresql/\\d+(\\.\\d+)?/bin/${tool}$`));
      expect(version(program)).toBe(version(tool, { ...process.env, PGHOST: '127.0.0.1' }));
    }
  });

  it('a tool on PATH that is not the wrapper is run as found; DBGUARD_PG_BINDIR wins over both', () => {
    const bin = tempDir();
    symlinkSync(pgToolPath('pg_dump'), path.join(bin, 'pg_dump'));
    expect(pgToolPath('pg_dump', { PATH: `${bin}${path.delimiter}${process.env.PATH}` })).toBe('pg_dump');
    expect(pgToolPath('pg_dump', { PATH: process.env.PATH, DBGUARD_PG_BINDIR: bin })).toBe(path.join(bin, 'pg_dump'));
    expect(pgToolPath('pg_dump', { PATH: '' })).toBe('pg_dump'); // nothing found: the error comes from starting it
  });
});
