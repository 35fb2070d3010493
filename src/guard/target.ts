import path from 'node:path';
import { type DatabaseTarget, parseDatabaseUrl, redactUrl } from '../config/database-url.js';
import { loadShellParser, parseShell } from './shell.js';

const URL_FLAGS = new Set(['--url', '--db', '--database-url', '--dbname', '-d', '--connection-string']);
const DATABASE_URL_VARS = ['DATABASE_URL', 'DIRECT_URL'];

/** Databases a command line names itself: `DATABASE_URL=...` prefixes, `env DATABASE_URL=...`, --url/--db flags, postgres:// words, `sqlite3 <file>`. */
export async function databaseUrlsInCommand(line: string, cwd: string): Promise<string[]> {
  const parser = await loadShellParser();
  const urls: string[] = [];
  for (const command of parseShell(parser, line, { cwd }).commands) {
    for (const name of DATABASE_URL_VARS) if (command.env[name]) urls.push(command.env[name]);
    const sqliteFile = path.basename(command.argv[0] ?? '') === 'sqlite3' ? command.argv.slice(1).find((a) => !a.startsWith('-')) : undefined;
    if (sqliteFile && /\.(db|sqlite3?|db3)$/i.test(sqliteFile)) urls.push(path.resolve(command.cwd, sqliteFile));
    command.argv.forEach((word, index) => {
      const assignment = /^([A-Z_]+)=(.+)$/.exec(word);
      if (assignment && DATABASE_URL_VARS.includes(assignment[1]!)) urls.push(assignment[2]!);
      const [flag, inline] = word.startsWith('--') && word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
      if (URL_FLAGS.has(flag)) {
        const value = inline ?? command.argv[index + 1];
        if (value && /^(postgres(ql)?|file|sqlite):/i.test(value)) urls.push(value);
      } else if (/^postgres(ql)?:\/\//i.test(word)) {
        urls.push(word);
      }
    });
  }
  return [...new Set(urls)];
}

export interface CommandTarget {
  target: DatabaseTarget | undefined;
  /** How the target was found, or why it could not be. */
  notes: string[];
}

/**
 * The database a command works on: the first one it names itself, else the configured one. Never throws: a URL that
 * cannot be read falls back to the configured database, and no database at all is `target: undefined` with a note.
 */
export async function resolveCommandTarget(line: string, cwd: string, configured: () => DatabaseTarget): Promise<CommandTarget> {
  const notes: string[] = [];
  let urls: string[] = [];
  try {
    urls = await databaseUrlsInCommand(line, cwd);
  } catch (error) {
    notes.push(`could not read the command's database URL (${(error as Error).message}); using the configured database`);
  }
  for (const url of urls) {
    try {
      const target = parseDatabaseUrl(url, cwd);
      if (urls.length > 1) notes.push(`the command names ${urls.length} databases; checking ${target.display}`);
      return { target, notes };
    } catch (error) {
      notes.push(`cannot use ${redactUrl(url)} from the command (${(error as Error).message}); using the configured database`);
    }
  }
  try {
    return { target: configured(), notes };
  } catch (error) {
    notes.push(`no database found for this command (${(error as Error).message})`);
    return { target: undefined, notes };
  }
}
