import './wasm.js';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Node, Parser } from 'web-tree-sitter';
import type { ReadFile } from './types.js';

/*
 * Shell parsing uses tree-sitter-bash through web-tree-sitter (both WASM, maintained by the tree-sitter project,
 * the grammar editors and GitHub use). The candidates we were pointed at fell short: sh-syntax (WASM mvdan/sh) only
 * returns positions for commands, not their words; mvdan-sh is deprecated by its author; bash-parser has been
 * unmaintained since 2017. tree-sitter-bash handles quoting, heredocs, herestrings, subshells, substitutions and
 * functions, and reports syntax errors instead of throwing, so an unparseable line can be treated conservatively.
 */

/** What a command reads on standard input: literal text, a file, or the output of a command we cannot see into. */
export type StdinSource = { kind: 'text'; text: string } | { kind: 'file'; path: string } | { kind: 'opaque'; command: string };

/** One simple command, with its words unquoted and expanded where the line itself defines the value. */
export interface ShellCommand {
  argv: string[];
  /** `VAR=value` prefixes. */
  env: Record<string, string>;
  /** The command as written, for reasons. */
  text: string;
  /** Working directory after any `cd` earlier on the line. */
  cwd: string;
  stdin: StdinSource[];
}

export interface ParsedShell {
  commands: ShellCommand[];
  /** False when the parser had to recover from a syntax error. */
  complete: boolean;
  /** Files the line writes from visible text (`cat > x.sql <<EOF`), by absolute path. */
  writtenFiles: Map<string, string>;
  /** Files a `>` redirect empties or replaces. */
  overwritten?: string[];
}

let loading: Promise<Parser> | undefined;

export function loadShellParser(): Promise<Parser> {
  loading ??= (async () => {
    const { Language, Parser } = await import('web-tree-sitter');
    await Parser.init();
    const wasm = createRequire(import.meta.url).resolve('tree-sitter-bash/tree-sitter-bash.wasm');
    const parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
    return parser;
  })();
  return loading;
}

/** Thrown by {@link parseShell} without a parser for a line that needs one: the caller loads it and starts again. */
export class ShellParserNotLoaded extends Error {}

/** Characters the shell passes through unchanged outside quotes: no expansion, glob, tilde, comment or operator. */
const PLAIN = /[A-Za-z0-9_@%+=:,./-]/;
const RESERVED_WORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'case', 'esac', 'for', 'select', 'while', 'until', 'do', 'done', 'in', 'function', 'time', 'coproc', '!', '[[', '{']);

/**
 * `ls -la`, `git status`, `psql -d app -c "DELETE FROM users WHERE id = 3"`: a line of words made of plain
 * characters and quoted strings is one simple command, and the shell only removes the quotes (inside `'...'` nothing
 * is special; inside `"..."` only `$`, `` ` `` and `\` are, and such lines are left to the parser). It is split here
 * without loading the tree-sitter parser, whose first parse costs more than the rest of a hook. Anything else gets
 * undefined and goes through the real parser; the tests hold both to the same words.
 */
export function simpleCommand(line: string, cwd: string, stdin: StdinSource[]): ShellCommand | undefined {
  const argv: string[] = [];
  let word: string | undefined;
  let quotedFirst = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ') {
      if (word !== undefined) argv.push(word);
      word = undefined;
    } else if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) return undefined;
      const inner = line.slice(i + 1, end);
      if (c === '"' && /[$`\\]/.test(inner)) return undefined;
      if (argv.length === 0) quotedFirst = true;
      word = (word ?? '') + inner;
      i = end;
    } else if (PLAIN.test(c)) {
      word = (word ?? '') + c;
    } else {
      return undefined;
    }
  }
  if (word !== undefined) argv.push(word);
  // The first word decides what the line is: a command name, not an assignment (`A=1 cmd`) or a keyword.
  if (argv.length === 0 || quotedFirst || argv[0]!.includes('=') || RESERVED_WORDS.has(argv[0]!)) return undefined;
  return { argv, env: {}, text: line.trim(), cwd: cdTarget(argv, cwd), stdin };
}

/** The folder after `cd <dir>` (the folder it runs in is the new one); `cwd` for any other command. */
function cdTarget(argv: string[], cwd: string): string {
  const target = argv[1];
  if (argv[0] !== 'cd' || !target || target.startsWith('-') || target.startsWith('~') || target.includes('$')) return cwd;
  return path.resolve(cwd, target);
}

/** The commands of a shell line. `parser` may be left out: simple lines need none, others throw {@link ShellParserNotLoaded}. */
export function parseShell(parser: Parser | undefined, line: string, options: { cwd: string; stdin?: StdinSource[]; readFile?: ReadFile }): ParsedShell {
  const simple = simpleCommand(line, options.cwd, options.stdin ?? []);
  if (simple) return { commands: [simple], complete: true, writtenFiles: new Map() };
  if (!parser) throw new ShellParserNotLoaded('the shell parser is not loaded');
  return parseWithTreeSitter(parser, line, options);
}

/** What tree-sitter-bash reads in a line: every command, with its words unquoted and expanded where the line allows. */
export function parseWithTreeSitter(parser: Parser, line: string, options: { cwd: string; stdin?: StdinSource[]; readFile?: ReadFile }): ParsedShell {
  const tree = parser.parse(line);
  if (!tree) return { commands: [], complete: false, writtenFiles: new Map() };
  try {
    const walker = new Walker(line, options.readFile);
    walker.walk(tree.rootNode, { cwd: options.cwd, vars: new Map() }, options.stdin ?? []);
    return { commands: walker.commands, complete: !tree.rootNode.hasError, writtenFiles: walker.writtenFiles, overwritten: walker.overwritten };
  } finally {
    tree.delete();
  }
}

interface Scope {
  cwd: string;
  vars: Map<string, string>;
}

const SUBSTITUTIONS = new Set(['command_substitution', 'process_substitution']);
const TEXT_EMITTERS = new Set(['echo', 'printf']);
const PASS_THROUGH = new Set(['cat', 'tee', 'grep', 'egrep', 'fgrep', 'sed', 'head', 'tail', 'sort', 'uniq', 'tr', 'cut', 'envsubst']);
const PIPE_TOKENS = new Set(['|', '|&']);

class Walker {
  readonly commands: ShellCommand[] = [];
  readonly writtenFiles = new Map<string, string>();
  /** Files emptied or replaced by a `>` redirect (`: > dev.db`), by absolute path. */
  readonly overwritten: string[] = [];

  constructor(
    private readonly source: string,
    private readonly readFile: ReadFile | undefined,
  ) {}

  walk(node: Node, scope: Scope, stdin: StdinSource[]): void {
    switch (node.type) {
      case 'comment':
      case 'heredoc_body':
        return;
      case 'command':
        return this.command(node, scope, stdin);
      case 'redirected_statement':
        return this.redirected(node, scope, stdin);
      case 'pipeline':
        return this.pipeline(node.namedChildren.filter(isPresent), scope, stdin);
      case 'subshell':
      case 'command_substitution':
      case 'process_substitution':
        return this.children(node, copy(scope), stdin);
      case 'variable_assignment':
        this.assign(node, scope);
        return this.children(node, scope, []);
      case 'for_statement':
        return this.forLoop(node, scope, stdin);
      default:
        return this.children(node, scope, stdin);
    }
  }

  /** `for f in a.db b.db; do rm "$f"; done`: the body once per listed value (a glob stays a pattern). */
  private forLoop(node: Node, scope: Scope, stdin: StdinSource[]): void {
    const name = node.childForFieldName('variable')?.text;
    const values = node.childrenForFieldName('value').filter(isPresent).map((v) => this.word(v, scope));
    const body = node.childForFieldName('body');
    if (!body) return;
    for (const value of (values.length > 0 ? values : ['"$@"']).slice(0, 16)) {
      const inner = copy(scope);
      if (name) inner.vars.set(name, value);
      this.walk(body, inner, stdin);
    }
  }

  private children(node: Node, scope: Scope, stdin: StdinSource[]): void {
    for (const child of node.namedChildren) if (child) this.walk(child, scope, stdin);
  }

  private command(node: Node, scope: Scope, stdin: StdinSource[]): void {
    const env: Record<string, string> = {};
    const argv: string[] = [];
    const sources = [...stdin];
    node.children.forEach((child, index) => {
      if (!child) return;
      const field = node.fieldNameForChild(index);
      if (child.type === 'variable_assignment') {
        env[child.childForFieldName('name')?.text ?? ''] = this.value(child.childForFieldName('value'), scope);
      } else if (field === 'name') {
        argv.push(this.word(child.namedChildren[0] ?? child, scope));
      } else if (field === 'argument') {
        argv.push(this.word(child, scope));
      } else if (field === 'redirect') {
        sources.push(...this.redirectSources(child, scope));
      }
      this.substitutions(child, scope);
    });
    if (argv.length === 0) {
      for (const [name, value] of Object.entries(env)) scope.vars.set(name, value);
      return;
    }
    if (Object.keys(env).length === 0) scope.cwd = cdTarget(argv, scope.cwd);
    this.commands.push({ argv, env, text: node.text, cwd: scope.cwd, stdin: sources });
  }

  private redirected(node: Node, scope: Scope, stdin: StdinSource[]): void {
    const sources: StdinSource[] = [];
    const outputs: string[] = [];
    const continuations: Array<{ node: Node; piped: boolean }> = [];
    for (const redirect of node.childrenForFieldName('redirect')) {
      if (!redirect) continue;
      sources.push(...this.redirectSources(redirect, scope));
      outputs.push(...this.outputTargets(redirect, scope));
      this.overwritten.push(...this.outputTargets(redirect, scope, ['>', '>|', '&>']));
      this.substitutions(redirect, scope);
      if (redirect.type === 'heredoc_redirect') continuations.push(...heredocContinuations(redirect));
    }
    const body = node.childForFieldName('body');
    if (!body) return;
    const first = this.commands.length;
    this.withTrailingStdin(body, scope, stdin, sources);
    const produced = this.commands.slice(first);
    const written = emitted(produced).flatMap((s) => (s.kind === 'text' ? [s.text] : []));
    for (const target of outputs) if (written.length > 0) this.writtenFiles.set(target, written.join('\n'));
    for (const { node: next, piped } of continuations) {
      const flowing = piped ? emitted(produced) : [];
      if (next.type === 'pipeline') this.pipeline(next.namedChildren.filter(isPresent), scope, flowing);
      else this.walk(next, scope, flowing);
    }
  }

  /** A redirect written after `a && b` or `a | b` belongs to `b`. */
  private withTrailingStdin(body: Node, scope: Scope, stdin: StdinSource[], extra: StdinSource[]): void {
    const parts = body.namedChildren.filter(isPresent);
    const last = parts.at(-1);
    if (body.type === 'list' && last) {
      for (const part of parts.slice(0, -1)) this.walk(part, scope, stdin);
      this.withTrailingStdin(last, scope, stdin, extra);
    } else if (body.type === 'pipeline') {
      this.pipeline(parts, scope, stdin, extra);
    } else {
      this.walk(body, scope, [...stdin, ...extra]);
    }
  }

  /** Each stage reads what the earlier stages print, as far as we can tell what that is. */
  private pipeline(stages: Node[], scope: Scope, stdin: StdinSource[], lastExtra: StdinSource[] = []): void {
    let flowing = stdin;
    stages.forEach((stage, index) => {
      const first = this.commands.length;
      this.walk(stage, copy(scope), index === stages.length - 1 ? [...flowing, ...lastExtra] : flowing);
      flowing = emitted(this.commands.slice(first));
    });
  }

  private assign(node: Node, scope: Scope): void {
    const name = node.childForFieldName('name')?.text;
    if (name) scope.vars.set(name, this.value(node.childForFieldName('value'), scope));
  }

  private substitutions(node: Node, scope: Scope): void {
    if (SUBSTITUTIONS.has(node.type)) return this.walk(node, scope, []);
    for (const child of node.namedChildren) if (child) this.substitutions(child, scope);
  }

  private redirectSources(redirect: Node, scope: Scope): StdinSource[] {
    if (redirect.type === 'heredoc_redirect') return [{ kind: 'text', text: this.heredocText(redirect) }];
    if (redirect.type === 'herestring_redirect') {
      const word = redirect.namedChildren.find((c) => c !== null);
      return [{ kind: 'text', text: this.word(word ?? null, scope) }];
    }
    if (redirect.type === 'file_redirect' && operator(redirect) === '<') {
      const destination = redirect.childForFieldName('destination');
      if (destination) return [{ kind: 'file', path: path.resolve(scope.cwd, this.word(destination, scope)) }];
    }
    return [];
  }

  /**
   * The body is cut from the source between the line of `<<EOF` and the closing `EOF`: tree-sitter-bash loses
   * bodies whose first line starts with a backslash (`\i file.sql`).
   */
  private heredocText(redirect: Node): string {
    const start = redirect.namedChildren.find((c) => c?.type === 'heredoc_start');
    const end = redirect.namedChildren.find((c) => c?.type === 'heredoc_end');
    const body = redirect.namedChildren.find((c) => c?.type === 'heredoc_body');
    const lineEnd = start ? this.source.indexOf('\n', start.endIndex) : -1;
    const text = start && end && lineEnd >= 0 && lineEnd < end.startIndex ? this.source.slice(lineEnd + 1, end.startIndex) : (body?.text ?? '');
    return redirect.children.some((c) => c?.type === '<<-') ? text.replace(/^\t+/gm, '') : text;
  }

  private outputTargets(redirect: Node, scope: Scope, operators = ['>', '>>', '>|']): string[] {
    const nested = redirect.namedChildren.filter((c): c is Node => c?.type === 'file_redirect').flatMap((c) => this.outputTargets(c, scope, operators));
    if (redirect.type !== 'file_redirect' || !operators.includes(operator(redirect))) return nested;
    const destination = redirect.childForFieldName('destination');
    return destination ? [path.resolve(scope.cwd, this.word(destination, scope)), ...nested] : nested;
  }

  private value(node: Node | null, scope: Scope): string {
    return node ? this.word(node, scope) : '';
  }

  /** The word as the shell would pass it, for the parts the line itself determines. */
  word(node: Node | null, scope: Scope): string {
    if (!node) return '';
    switch (node.type) {
      case 'word':
      case 'number':
        return node.text.replace(/\\(\n|.)/g, (_, c: string) => (c === '\n' ? '' : c));
      case 'raw_string':
        return node.text.slice(1, -1);
      case 'ansi_c_string':
        return decodeAnsiC(node.text.slice(2, -1));
      case 'string':
      case 'translated_string':
        return this.doubleQuoted(node, scope);
      case 'concatenation':
        return node.namedChildren.map((c) => this.word(c, scope)).join('');
      case 'expansion': {
        // `${VAR:-default}`, `${VAR-default}`, `${VAR:=default}`: the value, else the default.
        const withDefault = /^\$\{(\w+):?[-=](.*)\}$/s.exec(node.text);
        if (withDefault) return scope.vars.get(withDefault[1]!) || withDefault[2]!.replace(/^(['"])(.*)\1$/s, '$2');
        const name = node.namedChildren.length === 1 && node.namedChildren[0]?.type === 'variable_name' ? node.namedChildren[0].text : undefined;
        return (name && scope.vars.get(name)) ?? node.text;
      }
      case 'simple_expansion': {
        const name = node.namedChildren.length === 1 && node.namedChildren[0]?.type === 'variable_name' ? node.namedChildren[0].text : undefined;
        return (name && scope.vars.get(name)) ?? node.text;
      }
      case 'command_substitution':
        return this.fileSubstitution(node, scope) ?? node.text;
      default:
        return node.text;
    }
  }

  private doubleQuoted(node: Node, scope: Scope): string {
    const open = node.type === 'translated_string' ? 2 : 1;
    let out = '';
    let at = node.startIndex + open;
    const source = node.text;
    const base = node.startIndex;
    for (const child of node.namedChildren) {
      if (!child) continue;
      out += unescapeDouble(source.slice(at - base, child.startIndex - base));
      out += child.type === 'string_content' ? unescapeDouble(child.text) : this.word(child, scope);
      at = child.endIndex;
    }
    return out + unescapeDouble(source.slice(at - base, source.length - 1));
  }

  /** `$(cat file.sql)` and `$(< file.sql)` stand for the file's text, which we can read. */
  private fileSubstitution(node: Node, scope: Scope): string | undefined {
    const inner = node.namedChildren.filter(isPresent);
    const only = inner.length === 1 ? inner[0] : undefined;
    if (!only || !this.readFile) return undefined;
    let file: Node | null | undefined;
    if (only.type === 'command' && only.childForFieldName('name')?.text === 'cat') {
      const args = only.childrenForFieldName('argument');
      file = args.length === 1 ? args[0] : undefined;
    } else if (only.type === 'file_redirect' && operator(only) === '<') {
      file = only.childForFieldName('destination');
    } else if (only.type === 'redirected_statement' && !only.childForFieldName('body')) {
      file = only.childrenForFieldName('redirect')[0]?.childForFieldName('destination');
    }
    return file ? this.readFile(path.resolve(scope.cwd, this.word(file, scope))) : undefined;
  }
}

/** What a group of commands prints, as stdin for the next pipeline stage. */
function emitted(commands: ShellCommand[]): StdinSource[] {
  return commands.flatMap((command): StdinSource[] => {
    const name = path.basename(command.argv[0] ?? '');
    if (TEXT_EMITTERS.has(name)) return [{ kind: 'text', text: unescapeEcho(command.argv.slice(1)) }];
    if (PASS_THROUGH.has(name)) {
      const files = name === 'cat' ? command.argv.slice(1).filter((a) => !a.startsWith('-')) : [];
      return files.length === 0 ? command.stdin : files.map((f) => ({ kind: 'file', path: path.resolve(command.cwd, f) }));
    }
    return [{ kind: 'opaque', command: command.text }];
  });
}


/** tree-sitter-bash nests what follows `<<EOF` on the same line inside the redirect: `cat <<EOF | psql`. */
function heredocContinuations(redirect: Node): Array<{ node: Node; piped: boolean }> {
  const skip = new Set(['heredoc_start', 'heredoc_body', 'heredoc_end', 'file_redirect', 'herestring_redirect']);
  const out: Array<{ node: Node; piped: boolean }> = [];
  for (const child of redirect.namedChildren) {
    if (!child || skip.has(child.type)) continue;
    const before = child.previousSibling;
    const piped = (before !== null && PIPE_TOKENS.has(before.type)) || PIPE_TOKENS.has(child.firstChild?.type ?? '');
    out.push({ node: child, piped });
  }
  return out;
}

function operator(redirect: Node): string {
  return redirect.children.find((c) => c !== null && !c.isNamed)?.type ?? '';
}

function copy(scope: Scope): Scope {
  return { cwd: scope.cwd, vars: new Map(scope.vars) };
}

function isPresent(node: Node | null): node is Node {
  return node !== null;
}

function unescapeDouble(text: string): string {
  return text.replace(/\\([$`"\\\n])/g, (_, c: string) => (c === '\n' ? '' : c));
}

function unescapeEcho(args: string[]): string {
  const words = [...args];
  while (words[0] && /^-[neE]+$/.test(words[0])) words.shift();
  return words.join(' ').replace(/\\n/g, '\n');
}

const ANSI_C: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };

function decodeAnsiC(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (all, c: string) => {
    if (c.startsWith('x')) return String.fromCharCode(parseInt(c.slice(1), 16));
    if (/^[0-7]/.test(c)) return String.fromCharCode(parseInt(c, 8));
    return ANSI_C[c] ?? all;
  });
}
