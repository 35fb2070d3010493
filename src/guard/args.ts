/** Small, tool-agnostic helpers for reading argument vectors. */

export interface OptionSpec {
  /** Options that take a value: `-c`, `--command` (also accepted as `--command=x` and `-cx`). */
  withValue?: readonly string[];
  /** Options whose value must be attached (`-psecret`). */
  attachedOnly?: readonly string[];
  /** Options are words like `-cmd` (sqlite3): no bundling of short flags. */
  singleDashLong?: boolean;
}

export interface ParsedArgs {
  options: Array<{ name: string; value: string | undefined }>;
  positionals: string[];
}

export function parseArgs(args: readonly string[], spec: OptionSpec = {}): ParsedArgs {
  const withValue = new Set(spec.withValue ?? []);
  const attachedOnly = new Set(spec.attachedOnly ?? []);
  const options: ParsedArgs['options'] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
    } else if (arg.startsWith('--') || spec.singleDashLong) {
      const name = spec.singleDashLong ? arg.replace(/^--?/, '-') : arg;
      const eq = name.indexOf('=');
      if (eq > 0) options.push({ name: name.slice(0, eq), value: name.slice(eq + 1) });
      else if (withValue.has(name) || withValue.has(`-${name}`)) options.push({ name, value: args[++i] });
      else options.push({ name, value: undefined });
    } else {
      for (let j = 1; j < arg.length; j++) {
        const name = `-${arg[j]}`;
        const rest = arg.slice(j + 1);
        if (attachedOnly.has(name)) {
          options.push({ name, value: rest || undefined });
          break;
        }
        if (withValue.has(name)) {
          options.push({ name, value: rest || args[++i] });
          break;
        }
        options.push({ name, value: undefined });
      }
    }
  }
  return { options, positionals };
}

export function optionValues(parsed: ParsedArgs, ...names: string[]): string[] {
  return parsed.options.filter((o) => names.includes(o.name) && o.value !== undefined).map((o) => o.value!);
}

export function hasOption(parsed: ParsedArgs, ...names: string[]): boolean {
  return parsed.options.some((o) => names.includes(o.name));
}

/** The words left after leading options (and `NAME=value` words when `assignments` is set): the wrapped command. */
export function afterOptions(args: readonly string[], spec: OptionSpec & { assignments?: boolean } = {}): string[] {
  const withValue = new Set(spec.withValue ?? []);
  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === '--') return args.slice(i + 1);
    if (arg.startsWith('-') && arg !== '-') {
      // `-iu postgres`: a bundle of short flags whose last one takes a value.
      const bundleTakesValue = /^-[A-Za-z]{2,}$/.test(arg) && withValue.has(`-${arg.at(-1)}`);
      i += withValue.has(arg) || bundleTakesValue ? 2 : 1;
    } else if (spec.assignments && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(arg) || /^(\$\(|`)/.test(arg))) {
      // `env $(cat .env | xargs) prisma ...`: what the substitution prints are assignments, not the command.
      i += 1;
    } else {
      break;
    }
  }
  return args.slice(i);
}

/** Whether a flag is present, as `--flag`, `--flag=value`, or inside a bundle of short flags (`-fv`). */
export function hasFlag(args: readonly string[], flag: string): boolean {
  const short = /^-[A-Za-z]$/.test(flag) ? flag[1]! : undefined;
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === flag || arg.startsWith(`${flag}=`)) return true;
    if (short && /^-[A-Za-z]+$/.test(arg) && arg.includes(short)) return true;
  }
  return false;
}

/**
 * Whether `sub` appears as consecutive positional words, allowing only option values before it:
 * `knex --knexfile k.js migrate:rollback` matches `migrate:rollback`; `prisma migrate dev --name reset` does not match `migrate reset`.
 */
export function matchesSubcommand(args: readonly string[], sub: ReadonlyArray<string | readonly string[]>): boolean {
  if (sub.length === 0) return true;
  const words: Array<{ word: string; optional: boolean }> = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) continue;
    const previous = args[i - 1];
    words.push({ word: arg, optional: previous !== undefined && previous.startsWith('-') && !previous.includes('=') });
  }
  const fits = (word: string | undefined, want: string | readonly string[]) => word !== undefined && (typeof want === 'string' ? word === want : want.includes(word));
  for (let start = 0; start < words.length; start++) {
    if (sub.every((want, k) => fits(words[start + k]?.word, want))) return true;
    if (!words[start]!.optional) return false;
  }
  return false;
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
