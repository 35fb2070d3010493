import path from 'node:path';
import type { Parser } from 'web-tree-sitter';
import { afterOptions, shellQuote } from './args.js';
import { type Invocation, PACKAGE_BINS, canonicalTool } from './rules.js';
import { type ShellCommand, type StdinSource, parseShell } from './shell.js';
import type { ReadFile } from './types.js';
import { type Workspace, type WorkspaceFormat, listWorkspaces, selectWorkspaces } from './workspaces.js';

/** A command as it finally runs, and the chain of commands that led to it. */
export interface Resolved extends Invocation {
  /** `npm run db:reset -> prisma migrate reset --force` */
  display: string;
  /** `VAR=value` names set on the way; none of them is consent. */
  envNames: string[];
  /** Set when the command runs inside `dbguard run`. */
  dbguardRun?: { approve: boolean } | undefined;
}

export interface ResolveContext {
  /** Undefined until a line needs it (see {@link parseShell}). */
  parser: Parser | undefined;
  readFile: ReadFile;
  /** Files written earlier on the line from visible text. */
  written: Map<string, string>;
  /** Shell text that could not be parsed, by the chain that led to it. */
  unparsed: Array<{ display: string; text: string }>;
  /** Files a `>` redirect empties or replaces, with the chain that does it. */
  overwritten: Array<{ display: string; file: string }>;
}

interface ScriptRun {
  label: string;
  body: string;
  dir: string;
  key: string;
}

type Step =
  | { kind: 'command'; argv: string[]; cwd?: string }
  | { kind: 'shell'; script: string; stdin?: StdinSource[] }
  | { kind: 'scripts'; runs: ScriptRun[] }
  | { kind: 'dbguard-run'; argv: string[]; approve: boolean }
  | { kind: 'done' };

interface HandlerContext {
  name: string;
  cwd: string;
  stdin: StdinSource[];
  readFile: ReadFile;
  text: string;
}

type Handler = (args: string[], hc: HandlerContext) => Step | undefined;

const MAX_DEPTH = 12;
const MAX_HOPS = 32;
const DONE: Step = { kind: 'done' };

const command = (argv: string[], cwd?: string): Step => (argv.length > 0 ? { kind: 'command', argv, cwd } : DONE);

/** Sees through wrappers, package runners, shells and package.json scripts, down to the commands that run. */
export function resolveCommand(start: ShellCommand, ctx: ResolveContext, chain: string[] = [], stack: string[] = [], run?: Resolved['dbguardRun']): Resolved[] {
  let argv = start.argv;
  let cwd = start.cwd;
  let dbguardRun = run;
  const envNames = Object.keys(start.env);
  for (let hops = 0; ; hops++) {
    if (hops > MAX_HOPS) {
      ctx.unparsed.push({ display: [...chain, start.text].join(' -> '), text: start.text });
      return [];
    }
    const name = path.basename(argv[0] ?? '');
    const handler = HANDLERS[name] ?? (name.endsWith('.sh') ? scriptFile : undefined);
    const step = handler?.(argv.slice(1), { name: argv[0] ?? '', cwd, stdin: start.stdin, readFile: ctx.readFile, text: start.text });
    if (!step) break;
    if (step.kind === 'done') return [];
    if (step.kind === 'command') {
      const wrapperArgs = argv.slice(1, Math.max(1, argv.length - step.argv.length));
      envNames.push(...wrapperArgs.filter((a) => /^[A-Za-z_]\w*=/.test(a)).map((a) => a.split('=')[0]!));
      argv = step.argv;
      cwd = step.cwd ?? cwd;
    } else if (step.kind === 'dbguard-run') {
      argv = step.argv;
      dbguardRun = { approve: step.approve };
      if (argv.length === 0) return [];
    } else {
      const stdin = step.kind === 'shell' ? step.stdin ?? start.stdin : start.stdin;
      const runs = step.kind === 'shell' ? [{ label: start.text, body: step.script, dir: cwd, key: '' }] : step.runs;
      return runs.flatMap((r) => {
        if (r.key && stack.includes(r.key)) return [];
        return nested(r.body, { ...start, cwd: r.dir, text: r.label, stdin }, ctx, [...chain, r.label], r.key ? [...stack, r.key] : stack, dbguardRun);
      });
    }
  }
  let tool = canonicalTool(argv[0] ?? '');
  let args = argv.slice(1);
  if (tool === 'docker') args = withoutDockerGlobals(args);
  if (tool === 'docker' && args[0] === 'compose') [tool, args] = ['docker-compose', args.slice(1)];
  return [{ tool, args, cwd, stdin: start.stdin, display: [...chain, start.text].join(' -> '), envNames, dbguardRun }];
}

function nested(script: string, origin: ShellCommand, ctx: ResolveContext, chain: string[], stack: string[], run: Resolved['dbguardRun']): Resolved[] {
  if (chain.length > MAX_DEPTH) {
    ctx.unparsed.push({ display: chain.join(' -> '), text: script });
    return [];
  }
  const parsed = parseShell(ctx.parser, script, { cwd: origin.cwd, stdin: origin.stdin, readFile: ctx.readFile });
  for (const [file, text] of parsed.writtenFiles) ctx.written.set(file, text);
  for (const file of parsed.overwritten ?? []) ctx.overwritten.push({ display: chain.join(' -> '), file });
  if (!parsed.complete) ctx.unparsed.push({ display: chain.join(' -> '), text: script });
  return parsed.commands.flatMap((c) => resolveCommand(c, ctx, chain, stack, run));
}

/** `sh -c '...'`, `bash script.sh`, `bash <<EOF`. */
const shellHandler: Handler = (args, hc) => {
  let i = 0;
  let inline = false;
  for (; i < args.length && /^[-+]/.test(args[i]!); i++) {
    if (args[i] === '--') {
      i++;
      break;
    }
    if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(args[i]!)) inline = true;
    // `-o pipefail`, and bundles ending in o (`-euo pipefail`), take the next word.
    if (/^[-+][a-zA-Z]*[oO]$/.test(args[i]!) || ['--rcfile', '--init-file'].includes(args[i]!)) i++;
  }
  const first = args[i];
  if (inline) return first === undefined ? DONE : { kind: 'shell', script: first };
  if (first !== undefined) return scriptFile([], { ...hc, name: first });
  const text = hc.stdin.flatMap((s) => (s.kind === 'text' ? [s.text] : [])).join('\n');
  return text ? { kind: 'shell', script: text, stdin: [] } : DONE;
};

const scriptFile: Handler = (_args, hc) => {
  const text = hc.readFile(path.resolve(hc.cwd, hc.name));
  return text === undefined ? DONE : { kind: 'shell', script: text };
};

const envHandler: Handler = (args, hc) => {
  let cwd: string | undefined;
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-'); i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg === '-S' || arg === '--split-string') return { kind: 'shell', script: args.slice(i + 1).join(' ') };
    if (arg === '-C' || arg === '--chdir') cwd = args[++i];
    else if (arg.startsWith('--chdir=')) cwd = arg.slice('--chdir='.length);
    else if (arg === '-u' || arg === '--unset') i++;
  }
  return command(afterOptions(args.slice(i), { assignments: true }), cwd === undefined ? undefined : path.resolve(hc.cwd, cwd));
};

const suHandler: Handler = (args) => {
  const inline = args.find((a) => a.startsWith('--command='));
  if (inline) return { kind: 'shell', script: inline.slice('--command='.length) };
  const at = args.findIndex((a) => a === '-c' || a === '--command');
  return at >= 0 && args[at + 1] !== undefined ? { kind: 'shell', script: args[at + 1]! } : DONE;
};

/** `source script.sh`, `. ./script.sh`: the script runs in this shell. */
const sourceHandler: Handler = (args, hc) => (args[0] === undefined ? DONE : scriptFile([], { ...hc, name: args[0] }));

/** `dotenvx run -f .env -- prisma migrate reset`. */
const dotenvx: Handler = (args) => {
  if (args[0] !== 'run') return DONE;
  const rest = args.slice(1);
  return command(rest.includes('--') ? rest.slice(rest.indexOf('--') + 1) : afterOptions(rest, { withValue: ['-f', '--env-file', '-e', '--env', '--convention', '--env-keys-file'] }));
};

/** Options of npx, npm exec, pnpm dlx, bunx and yarn dlx that take a value (`-w api`, `--package prisma`). */
const RUNNER_VALUES = new Set(['-p', '--package', '-w', '--workspace', '--prefix', '--registry', '--cache', '--userconfig', '--node-options', '--shell', '--script-shell']);

/**
 * `npx prisma@6 migrate reset`, `npx -p prisma prisma ...`, `npx -c '...'`, `npm exec prisma -- migrate reset`,
 * `pnpm dlx`, `bunx`, `yarn dlx`.
 */
const runner: Handler = (args) => {
  let packageGiven = false;
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-'); i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '-c' || name === '--call' || name === '--shell-mode') {
      const script = inline ?? args[i + 1];
      return script === undefined ? DONE : { kind: 'shell', script };
    }
    if (name === '-p' || name === '--package') packageGiven = true;
    if (RUNNER_VALUES.has(name) && inline === undefined) i++;
  }
  const [bin, ...rest] = args.slice(i);
  if (bin === undefined) return DONE;
  // `npm exec <package> -- <args>`: the `--` ends npm's options, not the package's.
  return command([packageGiven ? bin : binOf(bin), ...(rest[0] === '--' ? rest.slice(1) : rest)]);
};

function binOf(spec: string): string {
  const name = spec.startsWith('@') ? spec.split('@').slice(0, 2).join('@') : spec.split('@')[0]!;
  return PACKAGE_BINS[name] ?? name.replace(/^@[^/]+\//, '');
}

function findPackage(cwd: string, readFile: ReadFile): { dir: string; scripts: Record<string, string> } | undefined {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const text = readFile(path.join(dir, 'package.json'));
    if (text !== undefined) {
      try {
        const scripts = (JSON.parse(text) as { scripts?: unknown }).scripts;
        const valid = scripts && typeof scripts === 'object' ? Object.entries(scripts).filter((e): e is [string, string] => typeof e[1] === 'string') : [];
        return { dir, scripts: Object.fromEntries(valid) };
      } catch {
        return { dir, scripts: {} };
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The runs of `name` with its pre/post scripts, or undefined when package.json has no such script. */
function scriptRuns(names: string[], extra: string[], hc: HandlerContext, cwd = hc.cwd): Step | undefined {
  const pkg = findPackage(cwd, hc.readFile);
  if (!pkg) return undefined;
  const runs: ScriptRun[] = [];
  for (const name of names) {
    const main = pkg.scripts[name];
    if (main === undefined) continue;
    const suffix = extra.length > 0 ? ` ${extra.map(shellQuote).join(' ')}` : '';
    for (const [script, body] of [[`pre${name}`, pkg.scripts[`pre${name}`]], [name, main + suffix], [`post${name}`, pkg.scripts[`post${name}`]]] as const) {
      const key = `${pkg.dir}#${script}`;
      // An install's lifecycle names `preinstall` both as a script and as the pre-script of `install`.
      if (body === undefined || runs.some((r) => r.key === key)) continue;
      runs.push({ label: script === name ? hc.text : `${hc.text} (${script})`, body, dir: pkg.dir, key });
    }
  }
  return runs.length > 0 ? { kind: 'scripts', runs } : undefined;
}

/** Splits `[global options] subcommand rest` for a package manager. */
function splitManager(args: string[], withValue: string[]): { options: Map<string, string>; sub: string | undefined; rest: string[] } {
  const options = new Map<string, string>();
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-'); i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    if (eq > 0) options.set(arg.slice(0, eq), arg.slice(eq + 1));
    else if (withValue.includes(arg)) options.set(arg, args[++i] ?? '');
    else options.set(arg, '');
  }
  return { options, sub: args[i], rest: args.slice(i + 1) };
}

/** `run [options] <name> [--] [args]`: the script name and the arguments passed on to it. */
function scriptCall(rest: string[]): { name: string | undefined; extra: string[] } {
  const at = rest.findIndex((a) => !a.startsWith('-'));
  return at < 0 ? { name: undefined, extra: [] } : { name: rest[at], extra: withoutDashes(rest.slice(at + 1)) };
}

function withoutDashes(args: string[]): string[] {
  return args[0] === '--' ? args.slice(1) : args;
}

const NPM_SCRIPT_ALIASES: Record<string, string> = { test: 'test', t: 'test', tst: 'test', start: 'start', stop: 'stop' };

const LIFECYCLE = ['preinstall', 'install', 'postinstall', 'prepare'];

/** Which packages of a workspace a command runs in: `all` (the root aside), and/or selectors (names, folders, globs). */
interface Selection {
  selectors: string[];
  all: boolean;
  root?: boolean;
}

/** Takes workspace selector options out of `args` (up to `--`): `npm -w api`, `pnpm --filter api`, `bun --filter '*'`. */
function takeSelection(args: string[], valued: string[], all: string[], root: string[] = [], stopAtWord = false): { selection: Selection | undefined; rest: string[] } {
  const selection: Selection = { selectors: [], all: false };
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--' || (stopAtWord && !arg.startsWith('-'))) {
      rest.push(...args.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (valued.includes(name)) selection.selectors.push(eq > 0 ? arg.slice(eq + 1) : (args[++i] ?? ''));
    else if (all.includes(arg)) selection.all = true;
    else if (root.includes(arg)) selection.root = true;
    else rest.push(arg);
  }
  const selected = selection.selectors.length > 0 || selection.all || selection.root === true;
  return { selection: selected ? selection : undefined, rest };
}

/** An install runs the lifecycle scripts of the project, and in a workspace those of every package. */
function lifecycle(hc: HandlerContext, cwd: string, format: WorkspaceFormat): Step {
  return inWorkspaces({ selectors: [], all: true, root: true }, format, hc, cwd, (at) => scriptRuns(LIFECYCLE, [], hc, at));
}

function merge(a: Selection | undefined, b: Selection | undefined): Selection | undefined {
  if (!a || !b) return a ?? b;
  return { selectors: [...a.selectors, ...b.selectors], all: a.all || b.all, root: a.root === true || b.root === true };
}

/**
 * The step of a command run in each selected workspace package (`npm run reset -w api`): each package's own
 * scripts, with the package's folder in the chain. Outside a workspace, the command runs where it is.
 */
function inWorkspaces(selection: Selection, format: WorkspaceFormat, hc: HandlerContext, cwd: string, step: (dir: string) => Step | undefined): Step {
  const all = listWorkspaces(cwd, format, hc.readFile);
  if (!all) return step(cwd) ?? DONE;
  let picked: Workspace[] = selection.root ? [all[0]!] : [];
  if (selection.all) picked.push(...all.slice(1));
  if (selection.selectors.length > 0) picked.push(...selectWorkspaces(all, selection.selectors, cwd));
  // `--filter '!ui' -r`: an exclusion applies to the packages `-r` picks too.
  const exclusions = selection.selectors.filter((s) => s.startsWith('!'));
  if (exclusions.length > 0) picked = picked.filter((ws) => selectWorkspaces([ws], exclusions, cwd).length > 0);
  // A selector that names no package makes the package manager fail; if we misread it, every package is checked.
  if (picked.length === 0) picked = all;
  const runs: ScriptRun[] = [];
  for (const ws of new Set(picked)) {
    const where = ` (in ${path.relative(all[0]!.dir, ws.dir) || '.'})`;
    const inner = step(ws.dir);
    if (inner?.kind === 'scripts') runs.push(...inner.runs.map((r) => ({ ...r, label: `${r.label}${where}` })));
    else if (inner?.kind === 'command') runs.push({ label: `${hc.text}${where}`, body: inner.argv.map(shellQuote).join(' '), dir: inner.cwd ?? ws.dir, key: '' });
    else if (inner?.kind === 'shell') runs.push({ label: `${hc.text}${where}`, body: inner.script, dir: ws.dir, key: '' });
  }
  return runs.length > 0 ? { kind: 'scripts', runs } : DONE;
}

const npm: Handler = (argv, hc) => {
  // npm reads its options anywhere before `--`: `npm run reset -w api` runs api's reset.
  const { selection, rest: args } = takeSelection(argv, ['-w', '--workspace'], ['--workspaces', '-ws'], ['--include-workspace-root']);
  if (selection) {
    const prefix = splitManager(args, ['--prefix']).options.get('--prefix');
    return inWorkspaces(selection, 'npm', hc, prefix ? path.resolve(hc.cwd, prefix) : hc.cwd, (dir) => npm(args, { ...hc, cwd: dir }));
  }
  const { options, sub, rest } = splitManager(args, ['--prefix', '--userconfig']);
  let cwd = options.has('--prefix') ? path.resolve(hc.cwd, options.get('--prefix')!) : hc.cwd;
  if (sub === 'run' || sub === 'run-script' || sub === 'rum' || sub === 'urn') {
    // `npm run --prefix packages/api reset`: options may also follow `run`.
    const own = splitManager(rest, ['--prefix']);
    if (own.options.has('--prefix')) cwd = path.resolve(hc.cwd, own.options.get('--prefix')!);
    const { name, extra } = scriptCall(own.sub === undefined ? [] : [own.sub, ...own.rest]);
    return name ? scriptRuns([name], extra, hc, cwd) ?? DONE : DONE;
  }
  if (sub === 'restart') return scriptRuns(['restart'], withoutDashes(rest), hc, cwd) ?? scriptRuns(['prerestart', 'stop', 'start', 'postrestart'], [], hc, cwd) ?? DONE;
  if (sub && NPM_SCRIPT_ALIASES[sub]) return scriptRuns([NPM_SCRIPT_ALIASES[sub]!], withoutDashes(rest), hc, cwd) ?? DONE;
  if (sub === 'exec' || sub === 'x') return runner(rest, hc);
  if ((sub === 'install' || sub === 'i' || sub === 'ci') && !rest.some((a) => !a.startsWith('-'))) {
    return lifecycle(hc, cwd, 'npm');
  }
  return DONE;
};

const PNPM_BUILTINS = new Set(['install', 'i', 'add', 'remove', 'rm', 'uninstall', 'update', 'up', 'upgrade', 'list', 'ls', 'll', 'why', 'outdated', 'link', 'unlink', 'import', 'audit', 'publish', 'pack', 'store', 'init', 'create', 'prune', 'fetch', 'rebuild', 'rb', 'dedupe', 'patch', 'patch-commit', 'setup', 'env', 'config', 'root', 'bin', 'help', 'licenses', 'deploy', 'doctor', 'server', 'approve-builds', 'self-update']);

const PNPM_SELECTION = [['--filter', '-F', '--filter-prod'], ['-r', '--recursive'], ['-w', '--workspace-root']] as const;

const pnpm: Handler = (argv, hc) => {
  // Selectors go before the script's name (`pnpm --filter api reset`, `pnpm -r run reset`, `pnpm run -r reset`).
  const global = takeSelection(argv, [...PNPM_SELECTION[0]], [...PNPM_SELECTION[1]], [...PNPM_SELECTION[2]], true);
  const [first, ...after] = global.rest;
  const own = first === 'run' || first === 'run-script' || first === 'exec' ? takeSelection(after, [...PNPM_SELECTION[0]], [...PNPM_SELECTION[1]], [...PNPM_SELECTION[2]], true) : undefined;
  const selection = merge(global.selection, own?.selection);
  const args = own ? [first!, ...own.rest] : global.rest;
  const { options, sub, rest } = splitManager(args, ['-C', '--dir', '--workspace-dir']);
  const dir = options.get('-C') ?? options.get('--dir');
  const cwd = dir ? path.resolve(hc.cwd, dir) : hc.cwd;
  if (selection && sub !== undefined && !PNPM_BUILTINS.has(sub)) return inWorkspaces(selection, 'pnpm', hc, cwd, (at) => pnpm([sub, ...rest], { ...hc, cwd: at }));
  if ((sub === undefined || sub === 'install' || sub === 'i') && !rest.some((a) => !a.startsWith('-'))) return lifecycle(hc, cwd, 'pnpm');
  if (!sub || PNPM_BUILTINS.has(sub)) return DONE;
  if (sub === 'exec') return command(afterOptions(rest), cwd);
  if (sub === 'dlx') return runner(rest, hc);
  if (sub === 'run' || sub === 'run-script') {
    const { name, extra } = scriptCall(rest);
    return name ? scriptRuns([name], extra, hc, cwd) ?? DONE : DONE;
  }
  const alias = sub === 't' || sub === 'tst' ? 'test' : sub;
  return scriptRuns([alias], withoutDashes(rest), hc, cwd) ?? command([sub, ...rest], cwd);
};

const YARN_BUILTINS = new Set(['install', 'add', 'remove', 'upgrade', 'up', 'info', 'why', 'init', 'create', 'config', 'cache', 'workspaces', 'set', 'plugin', 'npm', 'pack', 'publish', 'version', 'constraints', 'dedupe', 'explain', 'link', 'unlink', 'audit', 'outdated', 'list', 'global', 'import', 'licenses', 'login', 'logout', 'owner', 'tag', 'team', 'policies', 'autoclean', 'check', 'generate-lock-entry', 'help', 'bin', 'patch', 'patch-commit', 'rebuild', 'stage', 'unplug', 'search']);

const yarn: Handler = (args, hc) => {
  const { options, sub, rest } = splitManager(args, ['--cwd']);
  const cwd = options.has('--cwd') ? path.resolve(hc.cwd, options.get('--cwd')!) : hc.cwd;
  if ((sub === undefined || sub === 'install') && !rest.some((a) => !a.startsWith('-'))) return lifecycle(hc, cwd, 'npm');
  if (sub === 'workspaces' && (rest[0] === 'foreach' || rest[0] === 'run')) return yarnForeach(rest, hc, cwd);
  if (!sub || YARN_BUILTINS.has(sub)) return DONE;
  if (sub === 'dlx') return runner(rest, hc);
  if (sub === 'exec' || sub === 'node') return command(sub === 'node' ? ['node', ...rest] : rest, cwd);
  if (sub === 'workspace') return rest[0] === undefined ? DONE : inWorkspaces({ selectors: [rest[0]], all: false }, 'npm', hc, cwd, (at) => yarn(rest.slice(1), { ...hc, cwd: at }));
  const { name, extra } = sub === 'run' ? scriptCall(rest) : { name: sub, extra: withoutDashes(rest) };
  if (!name) return DONE;
  return scriptRuns([name], extra, hc, cwd) ?? command([name, ...extra], cwd);
};

const YARN_FOREACH_VALUES = ['--include', '--exclude', '--from', '-j', '--jobs', '--since'];

/** `yarn workspaces foreach -A run reset` (Yarn 2+), `yarn workspaces run reset` (Yarn 1): every package, or those `--include` names. */
function yarnForeach(rest: string[], hc: HandlerContext, cwd: string): Step {
  const parsed = splitManager(rest.slice(1), YARN_FOREACH_VALUES);
  // `--include` may be given more than once; the options map keeps only the last.
  const options = rest.slice(1, rest.length - parsed.rest.length - (parsed.sub === undefined ? 0 : 1));
  const included = options.flatMap((a, i) => (a === '--include' ? [options[i + 1] ?? ''] : a.startsWith('--include=') ? [a.slice('--include='.length)] : []));
  const all = parsed.options.has('-A') || parsed.options.has('--all') || rest[0] === 'run';
  const command = rest[0] === 'run' ? ['run', ...rest.slice(1)] : parsed.sub === undefined ? [] : [parsed.sub, ...parsed.rest];
  if (command.length === 0) return DONE;
  return inWorkspaces({ selectors: included, all: included.length === 0, root: all && included.length === 0 }, 'npm', hc, cwd, (at) => yarn(command, { ...hc, cwd: at }));
}

const BUN_BUILTINS = new Set(['install', 'i', 'add', 'a', 'remove', 'rm', 'update', 'link', 'unlink', 'pm', 'init', 'create', 'c', 'upgrade', 'build', 'test', 'repl', 'outdated', 'publish', 'patch', 'audit', 'info']);

const bun: Handler = (argv, hc) => {
  // `bun --filter 'api*' reset`, `bun run --filter ./packages/api reset`, `bun run --workspaces reset`.
  const global = takeSelection(argv, ['--filter', '-F'], ['--workspaces'], [], true);
  const own = global.rest[0] === 'run' ? takeSelection(global.rest.slice(1), ['--filter', '-F'], ['--workspaces'], [], true) : undefined;
  const selection = merge(global.selection, own?.selection);
  const args = own ? ['run', ...own.rest] : global.rest;
  const { options, sub, rest } = splitManager(args, ['--cwd', '--config', '-c']);
  const cwd = options.has('--cwd') ? path.resolve(hc.cwd, options.get('--cwd')!) : hc.cwd;
  if (selection && sub !== undefined) {
    const { name, extra } = sub === 'run' ? scriptCall(rest) : { name: sub, extra: withoutDashes(rest) };
    return name ? inWorkspaces(selection, 'npm', hc, cwd, (at) => scriptRuns([name], extra, hc, at)) : DONE;
  }
  if ((sub === 'install' || sub === 'i') && !rest.some((a) => !a.startsWith('-'))) return lifecycle(hc, cwd, 'npm');
  if (!sub || BUN_BUILTINS.has(sub)) return DONE;
  if (sub === 'x') return runner(rest, hc);
  if (sub === 'exec') return rest[0] === undefined ? DONE : { kind: 'shell', script: rest.join(' ') };
  const { name, extra } = sub === 'run' ? scriptCall(rest) : { name: sub, extra: withoutDashes(rest) };
  if (!name) return DONE;
  return scriptRuns([name], extra, hc, cwd) ?? command([name, ...extra], cwd);
};

/** `run-s`, `run-p`, `npm-run-all`: script names, with `*` patterns. */
const runAll: Handler = (args, hc) => {
  // `-c` is `--continue-on-error`, a flag: `run-s -c db:reset` runs db:reset.
  const names = afterOptions(args, { withValue: ['--max-parallel', '--npm-path'] }).filter((a) => !a.startsWith('-'));
  const pkg = findPackage(hc.cwd, hc.readFile);
  if (!pkg) return DONE;
  const matching = (pattern: string) => {
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '.*').replace(/(?<!\.)\*/g, '[^:]*')}$`);
    return Object.keys(pkg.scripts).filter((s) => re.test(s));
  };
  return scriptRuns(names.flatMap(matching), [], hc) ?? DONE;
};

const NODE_VALUES = ['-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions', '--input-type', '--title', '--env-file', '-P', '--project', '--tsconfig', '-O', '--compiler-options'];

/** `node node_modules/prisma/build/index.js`, `ts-node ./node_modules/typeorm/cli.js`. */
const nodeHandler: Handler = (args) => {
  if (args.some((a) => ['-e', '--eval', '-p', '--print'].includes(a))) return DONE;
  const [script, ...rest] = afterOptions(args, { withValue: NODE_VALUES });
  const match = script?.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/?([^/]*)/);
  if (!match) return DONE;
  const bin = match[1] === '.bin' ? match[2]! : binOf(match[1]!);
  return command([bin, ...rest]);
};

const DOCKER_EXEC_VALUES = ['-e', '--env', '--env-file', '-u', '--user', '-w', '--workdir', '--detach-keys', '--index', '--name', '-v', '--volume', '-p', '--publish', '--entrypoint', '-l', '--label', '--network', '--platform', '--pull'];
const COMPOSE_VALUES = ['-f', '--file', '-p', '--project-name', '--env-file', '--profile', '--project-directory', '--ansi', '--progress', '--parallel'];

const DOCKER_GLOBAL_VALUES = ['--context', '-c', '--host', '-H', '--config', '--log-level', '-l', '--tlscacert', '--tlscert', '--tlskey'];
const DOCKER_RUN_VALUES = [...DOCKER_EXEC_VALUES, '--name', '--network', '--net', '--mount', '--platform', '--restart', '--cpus', '-m', '--memory', '--hostname', '--add-host', '--dns', '--label-file', '--log-driver', '--log-opt', '--expose', '--device', '--tmpfs', '--ulimit', '--cap-add', '--cap-drop', '--security-opt', '--stop-signal', '--pid', '--ipc', '--shm-size', '--health-cmd', '--cidfile', '-a', '--attach'];

/** `docker --context prod compose down -v`: docker's own options come before the subcommand. */
function withoutDockerGlobals(args: string[]): string[] {
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) i += DOCKER_GLOBAL_VALUES.includes(args[i]!) ? 2 : 1;
  return args.slice(i);
}

/** `docker exec db psql ...`, `docker run postgres psql ...`, `docker compose exec db psql ...`: the command inside the container. */
const dockerHandler: Handler = (args, hc) => {
  const compose = path.basename(hc.name) === 'docker-compose';
  const { sub, rest } = compose ? splitManager(args, COMPOSE_VALUES) : { sub: withoutDockerGlobals(args)[0], rest: withoutDockerGlobals(args).slice(1) };
  if (!compose && sub === 'compose') return dockerHandler(rest, { ...hc, name: 'docker-compose' });
  if (sub !== 'exec' && sub !== 'run') return undefined;
  const inside = afterOptions(rest, { withValue: sub === 'run' ? DOCKER_RUN_VALUES : DOCKER_EXEC_VALUES }).slice(1);
  return inside.length > 0 ? command(inside) : undefined;
};

const kubectl: Handler = (args) => {
  const dash = args.indexOf('--');
  return args[0] === 'exec' && dash >= 0 ? command(args.slice(dash + 1)) : undefined;
};

const dbguard: Handler = (args) => {
  if (args[0] !== 'run') return DONE;
  const rest = args.slice(1);
  const dash = rest.indexOf('--');
  const approve = rest.some((a) => a === '--approve' || a.startsWith('--approve='));
  return { kind: 'dbguard-run', argv: dash >= 0 ? rest.slice(dash + 1) : afterOptions(rest, { withValue: ['--approve', '--db', '--dir'] }), approve };
};

const HANDLERS: Record<string, Handler> = {
  sudo: (a) => command(afterOptions(a, { withValue: ['-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U', '-T', '--user', '--group', '--host', '--prompt', '--chdir'] })),
  doas: (a) => command(afterOptions(a, { withValue: ['-u', '-C'] })),
  env: envHandler,
  time: (a) => command(afterOptions(a, { withValue: ['-f', '-o', '--format', '--output'] })),
  nohup: (a) => command(a),
  builtin: (a) => command(a),
  exec: (a) => command(afterOptions(a, { withValue: ['-a'] })),
  command: (a) => (a.includes('-v') || a.includes('-V') ? DONE : command(afterOptions(a))),
  nice: (a) => command(afterOptions(a, { withValue: ['-n', '--adjustment'] })),
  ionice: (a) => command(afterOptions(a, { withValue: ['-c', '-n', '-p', '--class', '--classdata'] })),
  timeout: (a) => command(afterOptions(a, { withValue: ['-s', '--signal', '-k', '--kill-after'] }).slice(1)),
  stdbuf: (a) => command(afterOptions(a, { withValue: ['-i', '-o', '-e'] })),
  xargs: (a) => command(afterOptions(a, { withValue: ['-I', '-L', '-n', '-P', '-s', '-d', '-E', '-a'] })),
  watch: (a) => command(afterOptions(a, { withValue: ['-n', '--interval', '-d'] })),
  'cross-env': (a) => command(afterOptions(a, { assignments: true })),
  'cross-env-shell': (a) => ({ kind: 'shell', script: afterOptions(a, { assignments: true }).join(' ') }),
  dotenv: (a) => command(a.includes('--') ? a.slice(a.indexOf('--') + 1) : afterOptions(a, { withValue: ['-e', '-v', '-c'] })),
  'env-cmd': (a) => command(afterOptions(a, { withValue: ['-f', '--file', '-e', '--environments', '-r', '--rc-file'] })),
  eval: (a) => ({ kind: 'shell', script: a.join(' ') }),
  shx: (a) => command(afterOptions(a)),
  su: suHandler,
  source: sourceHandler,
  '.': sourceHandler,
  dotenvx,
  ...Object.fromEntries(['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash'].map((s) => [s, shellHandler])),
  npx: runner,
  pnpx: runner,
  bunx: runner,
  npm,
  pnpm,
  yarn,
  bun,
  'run-s': runAll,
  'run-p': runAll,
  'npm-run-all': runAll,
  ...Object.fromEntries(['node', 'nodejs', 'tsx', 'ts-node', 'ts-node-esm', 'ts-node-script', 'ts-node-transpile-only'].map((s) => [s, nodeHandler])),
  docker: dockerHandler,
  'docker-compose': dockerHandler,
  kubectl,
  dbguard,
};
