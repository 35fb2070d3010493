import type { Parser } from 'web-tree-sitter';
import { beforeAll, describe, expect, it } from 'vitest';
import { type StdinSource, loadShellParser, parseWithTreeSitter, simpleCommand } from '../../src/guard/shell.js';

let parser: Parser;

const FILES: Record<string, string> = { '/p/x.sql': 'DROP TABLE x;' };

/** The commands of a line as words, with their `VAR=` prefixes, folder (when not `/p`) and standard input. */
function parse(line: string) {
  const parsed = parseWithTreeSitter(parser, line, { cwd: '/p', readFile: (file) => FILES[file] });
  return {
    commands: parsed.commands.map((c) => ({
      argv: c.argv,
      ...(Object.keys(c.env).length > 0 ? { env: c.env } : {}),
      ...(c.cwd !== '/p' ? { cwd: c.cwd } : {}),
      ...(c.stdin.length > 0 ? { stdin: c.stdin } : {}),
    })),
    complete: parsed.complete,
    written: Object.fromEntries(parsed.writtenFiles),
    overwritten: parsed.overwritten ?? [],
  };
}

const argvs = (line: string) => parse(line).commands.map((c) => c.argv);
const psqlArgv = (line: string) => argvs(line).find((argv) => argv[0] === 'psql');
const stdinOf = (line: string, tool: string) => parse(line).commands.find((c) => c.argv[0] === tool)?.stdin ?? [];
const text = (t: string): StdinSource => ({ kind: 'text', text: t });
const file = (p: string): StdinSource => ({ kind: 'file', path: p });
const opaque = (command: string): StdinSource => ({ kind: 'opaque', command });

describe('guard shell parsing', () => {
  beforeAll(async () => {
    parser = await loadShellParser();
  });

  it('unquotes and expands words as the shell would, where the line itself says how', () => {
    expect(argvs(`echo 'a b' $'a\\nb\\t\\x41\\101\\q' 42 a"b"'c' a\\ b "a\\"b\\$c\\\\d" "x\\y"`)).toEqual([['echo', 'a b', 'a\nb\tAA\\q', '42', 'abc', 'a b', 'a"b$c\\d', 'x\\y']]);
    expect(argvs(`echo $'\\e\\E\\a\\b\\f\\v\\r\\'\\"\\?\\x7'`)).toEqual([['echo', '\x1b\x1b\x07\b\f\v\r\'"?\x07']]);
    expect(argvs('echo "a\\\nb" "$(ls)x"')).toEqual([['ls'], ['echo', 'ab', '$(ls)x']]);
  });

  it('expands variables the line sets, with defaults; unknown ones stay as written', () => {
    expect(argvs('F=dev.db; rm $F "$F" ${F} "x${F}y" ${G:-x.db} ${G-\'y z.db\'} ${G:="w.db"} ${F:-other} $H ${H}')).toEqual([
      ['rm', 'dev.db', 'dev.db', 'dev.db', 'xdev.dby', 'x.db', 'y z.db', 'w.db', 'dev.db', '$H', '${H}'],
    ]);
    expect(argvs('export A=a.db; rm $A')).toEqual([['rm', 'a.db']]);
    expect(argvs('F=a; (F=b); rm $F')).toEqual([['rm', 'a']]);
    expect(argvs('F=a; (F=b; rm $F)')).toEqual([['rm', 'b']]);
    expect(argvs('F=a; F=b rm $F')).toEqual([['rm', 'a']]);
  });

  it('keeps `VAR=value` prefixes apart from the words', () => {
    expect(parse('A=1 B="x y" psql -c x').commands).toEqual([{ argv: ['psql', '-c', 'x'], env: { A: '1', B: 'x y' } }]);
    expect(parse('A= psql').commands).toEqual([{ argv: ['psql'], env: { A: '' } }]);
  });

  it('follows `cd` to the end of the line, not out of a subshell, and not for `cd -`, `cd ~` or `cd $X`', () => {
    expect(parse('cd sub && rm x.db').commands).toEqual([{ argv: ['cd', 'sub'], cwd: '/p/sub' }, { argv: ['rm', 'x.db'], cwd: '/p/sub' }]);
    expect(parse('(cd sub && rm x.db); rm y.db').commands).toEqual([{ argv: ['cd', 'sub'], cwd: '/p/sub' }, { argv: ['rm', 'x.db'], cwd: '/p/sub' }, { argv: ['rm', 'y.db'] }]);
    expect(parse('cd /abs; cd ..; rm a').commands.at(-1)).toEqual({ argv: ['rm', 'a'], cwd: '/' });
    for (const line of ['cd - && rm a', 'cd ~/x && rm a', 'cd $D && rm a', 'cd && rm a', 'FOO=1 cd sub && rm a']) {
      expect(parse(line).commands.at(-1), line).toEqual({ argv: ['rm', 'a'] });
    }
  });

  it('runs a `for` body once per listed value (at most 16), or once for "$@"', () => {
    expect(argvs('for f in a.db b.db; do rm "$f"; done')).toEqual([['rm', 'a.db'], ['rm', 'b.db']]);
    expect(argvs('for f; do rm $f; done')).toEqual([['rm', '"$@"']]);
    expect(argvs(`for f in ${Array.from({ length: 20 }, (_, i) => i).join(' ')}; do rm $f; done`)).toHaveLength(16);
    expect(argvs('F=x; for f in a; do F=y; done; rm $F')).toEqual([['rm', 'x']]);
  });

  it('finds commands inside substitutions, and reads `$(cat file)` and `$(< file)` as the file', () => {
    expect(argvs('echo $(rm x.db) && diff <(rm a.db) b')).toEqual([['rm', 'x.db'], ['echo', '$(rm x.db)'], ['rm', 'a.db'], ['diff', '<(rm a.db)', 'b']]);
    expect(psqlArgv('psql -c "$(cat x.sql)" -c "$(< x.sql)" -c "$(cat missing.sql)" -c "$(cat x.sql x.sql)" -c "$(ls)"')).toEqual([
      'psql', '-c', 'DROP TABLE x;', '-c', 'DROP TABLE x;', '-c', '$(cat missing.sql)', '-c', '$(cat x.sql x.sql)', '-c', '$(ls)',
    ]);
    expect(psqlArgv('psql -c $(cat x.sql)')).toEqual(['psql', '-c', 'DROP TABLE x;']);
    expect(psqlArgv('F=x.sql; psql -c "$(cat $F)"')).toEqual(['psql', '-c', 'DROP TABLE x;']);
    expect(psqlArgv('cd /; psql -c "$(cat p/x.sql)"')).toEqual(['psql', '-c', 'DROP TABLE x;']);
    const withoutFiles = parseWithTreeSitter(parser, 'psql -c "$(cat x.sql)"', { cwd: '/p' });
    expect(withoutFiles.commands.at(-1)?.argv).toEqual(['psql', '-c', '$(cat x.sql)']);
  });

  it('gives each command what it reads: heredocs, herestrings, files, and what earlier pipeline stages print', () => {
    expect(stdinOf("psql app <<'SQL'\nDROP TABLE x;\nSQL", 'psql')).toEqual([text('DROP TABLE x;\n')]);
    expect(stdinOf('mysql shop <<-EOF\n\tTRUNCATE carts;\n\t\tx\n\tEOF', 'mysql')).toEqual([text('TRUNCATE carts;\nx\n')]);
    expect(stdinOf('psql <<EOF\n\\i x.sql\nEOF', 'psql')).toEqual([text('\\i x.sql\n')]);
    expect(stdinOf('psql < x.sql', 'psql')).toEqual([file('/p/x.sql')]);
    expect(stdinOf('psql < /abs/y.sql', 'psql')).toEqual([file('/abs/y.sql')]);
    expect(stdinOf("psql <<< 'DROP TABLE y'", 'psql')).toEqual([text('DROP TABLE y')]);
    expect(stdinOf('psql <<< "$(cat x.sql)"', 'psql')).toEqual([text('DROP TABLE x;')]);
    expect(stdinOf('psql > out.txt', 'psql')).toEqual([]);
    expect(stdinOf('echo "DROP TABLE x" | psql', 'psql')).toEqual([text('DROP TABLE x')]);
    expect(stdinOf("/bin/echo -ne 'a\\nb' | psql", 'psql')).toEqual([text('a\nb')]);
    expect(stdinOf("printf 'a\\nb' c | psql", 'psql')).toEqual([text('a\nb c')]);
    expect(stdinOf('echo -x | psql', 'psql')).toEqual([text('-x')]);
    expect(stdinOf('cat x.sql | psql', 'psql')).toEqual([file('/p/x.sql')]);
    expect(stdinOf('cat -n a.sql b.sql | psql', 'psql')).toEqual([file('/p/a.sql'), file('/p/b.sql')]);
    expect(stdinOf('echo DROP | tee log | grep x | psql', 'psql')).toEqual([text('DROP')]);
    expect(stdinOf('grep x y.sql | psql', 'psql')).toEqual([]);
    for (const filter of ['cat', 'tee', 'grep', 'egrep', 'fgrep', 'sed', 'head', 'tail', 'sort', 'uniq', 'tr', 'cut', 'envsubst']) {
      expect(stdinOf(`echo DROP | ${filter} -x | psql`, 'psql'), filter).toEqual([text('DROP')]);
    }
    expect(stdinOf('curl -s http://x | psql', 'psql')).toEqual([opaque('curl -s http://x')]);
    expect(stdinOf('echo a | gzip | psql', 'psql')).toEqual([opaque('gzip')]);
    expect(stdinOf('cat <<EOF | psql app\nDROP;\nEOF', 'psql')).toEqual([text('DROP;\n')]);
    expect(stdinOf('cat <<EOF && psql app\nDROP;\nEOF', 'psql')).toEqual([]);
    expect(stdinOf('echo x | psql < f.sql', 'psql')).toEqual([text('x'), file('/p/f.sql')]);
    expect(stdinOf('true && psql < f.sql', 'psql')).toEqual([file('/p/f.sql')]);
    expect(stdinOf('psql < f.sql && true', 'psql')).toEqual([file('/p/f.sql')]);
    expect(stdinOf('(echo DROP) | psql', 'psql')).toEqual([text('DROP')]);
  });

  it('records the files a line writes from visible text, and those a `>` empties or replaces', () => {
    const parsed = parse('echo DROP > f.sql; echo a >> g.sql; echo b >| h.sql; echo c &> i.sql; : > dev.db; ls > list.txt; cat <<EOF > j.sql\nJ\nEOF');
    expect(parsed.written).toEqual({ '/p/f.sql': 'DROP', '/p/g.sql': 'a', '/p/h.sql': 'b', '/p/j.sql': 'J\n' });
    expect(parsed.overwritten).toEqual(['/p/f.sql', '/p/h.sql', '/p/i.sql', '/p/dev.db', '/p/list.txt', '/p/j.sql']);
    expect(parse('cd sub; echo x > out.sql').written).toEqual({ '/p/sub/out.sql': 'x' });
    expect(parse('echo a; echo b > two.sql').written).toEqual({ '/p/two.sql': 'b' });
    expect(parse('{ echo a; echo b; } > two.sql').written).toEqual({ '/p/two.sql': 'a\nb' });
  });

  it('says when it had to recover from a syntax error', () => {
    expect(parse('echo (').complete).toBe(false);
    expect(parse('echo ok').complete).toBe(true);
    expect(parse('ls # rm x.db').commands).toEqual([{ argv: ['ls'] }]);
  });

  it('splits simple lines without the parser, and leaves the others to it', () => {
    expect(simpleCommand('  psql -c "DROP TABLE x"  ', '/p', [])).toEqual({ argv: ['psql', '-c', 'DROP TABLE x'], env: {}, text: 'psql -c "DROP TABLE x"', cwd: '/p', stdin: [] });
    expect(simpleCommand('cd sub', '/p', [])?.cwd).toBe('/p/sub');
    expect(simpleCommand('cd -P', '/p', [])?.cwd).toBe('/p');
    expect(simpleCommand('ls a""b', '/p', [])?.argv).toEqual(['ls', 'ab']);
    for (const word of ['if', 'then', 'else', 'elif', 'fi', 'case', 'esac', 'for', 'select', 'while', 'until', 'do', 'done', 'in', 'function', 'time', 'coproc']) {
      expect(simpleCommand(`${word} x`, '/p', []), word).toBeUndefined();
    }
    for (const line of ['', '   ', '"ls"', "'ls' x", 'A=1', 'if x', 'then', 'done', '!', '{', 'time x', '[[', 'a=b c', 'ls *', 'echo "$x"', 'echo "\\"', 'echo "`x`"']) {
      expect(simpleCommand(line, '/p', []), line).toBeUndefined();
    }
    const stdin = [text('x')];
    expect(simpleCommand('psql', '/p', stdin)?.stdin).toBe(stdin);
  });
  it('follows `|&` pipes, commands inside assignments, and heredocs whose body tree-sitter loses', () => {
    expect(stdinOf('echo DROP |& psql', 'psql')).toEqual([text('DROP')]);
    expect(stdinOf('echo -nE DROP | psql', 'psql')).toEqual([text('DROP')]);
    expect(stdinOf('cat <<EOF |& psql\nDROP;\nEOF', 'psql')).toEqual([text('DROP;\n')]);
    expect(stdinOf('psql <<-EOF\n\t\\i x.sql\n\tEOF', 'psql')).toEqual([text('\\i x.sql\n')]);
    expect(stdinOf('psql <<EOF\n\\i x.sql\n\\i y.sql\nEOF', 'psql')).toEqual([text('\\i x.sql\n\\i y.sql\n')]);
    expect(argvs('X=$(dropdb a); echo $X')).toEqual([['dropdb', 'a'], ['echo', '$(dropdb a)']]);
    expect(parse('cd sub; psql < x.sql').commands.at(-1)).toEqual({ argv: ['psql'], cwd: '/p/sub', stdin: [file('/p/sub/x.sql')] });
    expect(psqlArgv('psql -c "$(<x.sql)"')).toEqual(['psql', '-c', 'DROP TABLE x;']);
  });
});
