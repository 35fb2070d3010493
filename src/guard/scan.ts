import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, Scalar } from 'yaml';
import { classifyCommand } from './classify.js';
import { loadShellParser } from './shell.js';
import type { Classification, Reason } from './types.js';

/** A command in a file that can destroy data. */
export interface ScanFinding {
  /** Path as given (relative to the repository for staged files). */
  file: string;
  line: number;
  command: string;
  reasons: Reason[];
}

export const ALLOW_COMMENT = 'dbguard:allow';
const INSIDE_DBGUARD_RUN = 'dbguard run refuses it';

type FileKind = 'package-json' | 'shell' | 'makefile' | 'workflow' | 'dockerfile';

/** Which scanner reads a file, from its path and (for scripts without an extension) its first line. */
export function fileKind(file: string, text?: string): FileKind | undefined {
  const normalized = file.split(path.sep).join('/');
  const base = path.posix.basename(normalized);
  if (normalized.split('/').includes('node_modules')) return undefined;
  if (base === 'package.json') return 'package-json';
  if (/^(GNU)?makefile$/i.test(base) || base.endsWith('.mk')) return 'makefile';
  if (/(^|\/)\.github\/workflows\/[^/]+\.ya?ml$/.test(normalized)) return 'workflow';
  if (/^(Dockerfile|Containerfile)(\..+)?$/.test(base) || base.endsWith('.Dockerfile')) return 'dockerfile';
  if (/\.(sh|bash)$/.test(base)) return 'shell';
  if (text !== undefined && /^#!.*\b(sh|bash|dash|zsh)\b/.test(text.split('\n', 1)[0] ?? '')) return 'shell';
  return undefined;
}

/** A command found in a file, with the 1-based line it starts on and the file lines it spans. */
interface Located {
  line: number;
  command: string;
  lines: string[];
}

/** Scans one file's text; `cwd` is where its commands would run (package.json scripts and relative paths). */
export async function scanText(file: string, text: string, cwd: string): Promise<ScanFinding[]> {
  const kind = fileKind(file, text);
  if (!kind) return [];
  const located = await COMMANDS[kind](text);
  const findings: ScanFinding[] = [];
  for (const { line, command, lines } of located) {
    if (lines.some((l) => l.includes(ALLOW_COMMENT))) continue;
    const result: Classification = await classifyCommand(command, { cwd });
    if (result.verdict !== 'block' || result.reasons.every((r) => r.message.includes(INSIDE_DBGUARD_RUN))) continue;
    findings.push({ file, line, command: command.split('\n')[0]!.trim(), reasons: result.reasons });
  }
  return findings;
}

const COMMANDS: Record<FileKind, (text: string) => Promise<Located[]>> = {
  'package-json': async (text) => {
    let scripts: unknown;
    try {
      scripts = (JSON.parse(text) as { scripts?: unknown }).scripts;
    } catch {
      return [];
    }
    if (!scripts || typeof scripts !== 'object') return [];
    const lines = text.split('\n');
    const scriptsLine = Math.max(0, lines.findIndex((l) => /"scripts"\s*:/.test(l)));
    return Object.entries(scripts as Record<string, unknown>).flatMap(([name, body]) => {
      if (typeof body !== 'string') return [];
      const quoted = JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const index = lines.findIndex((l, i) => i >= scriptsLine && new RegExp(`${quoted}\\s*:`).test(l));
      return [{ line: index + 1, command: body, lines: [body] }];
    });
  },
  shell: (text) => shellStatements(text, 1),
  makefile: async (text) =>
    logicalLines(text)
      .filter(({ text: l }) => l.startsWith('\t'))
      .map(({ line, text: l, lines }) => ({ line, lines, command: l.trim().replace(/^[@+-]+/, '').replace(/\$\$/g, '$') })),
  dockerfile: async (text) =>
    logicalLines(text).flatMap(({ line, text: l, lines }) => {
      const match = /^\s*RUN\s+((?:--[a-z-]+=\S+\s+)*)(.*)$/is.exec(l);
      if (!match) return [];
      const body = match[2]!.trim();
      if (body.startsWith('[')) {
        try {
          const argv = JSON.parse(body) as unknown;
          if (Array.isArray(argv)) return [{ line, lines, command: argv.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ') }];
        } catch {
          // shell form after all
        }
      }
      return [{ line, lines, command: body }];
    }),
  workflow: async (text) => {
    const counter = new LineCounter();
    const doc = parseDocument(text, { lineCounter: counter });
    const jobs = doc.get('jobs', true);
    if (!isMap(jobs)) return [];
    const fileLines = text.split('\n');
    const found: Located[] = [];
    for (const job of jobs.items) {
      const steps = isMap(job.value) ? job.value.get('steps', true) : undefined;
      if (!isSeq(steps)) continue;
      for (const step of steps.items) {
        const run = isMap(step) ? step.get('run', true) : undefined;
        if (!isScalar(run) || typeof run.value !== 'string' || !run.range) continue;
        const block = run.type === Scalar.BLOCK_LITERAL || run.type === Scalar.BLOCK_FOLDED;
        const keyLine = counter.linePos(run.range[0]).line;
        for (const statement of await shellStatements(run.value, keyLine + (block ? 1 : 0))) {
          found.push({ ...statement, lines: [...statement.lines, fileLines[keyLine - 1] ?? '', fileLines[statement.line - 1] ?? ''] });
        }
      }
    }
    return found;
  },
};

/** Top-level shell statements with the line each starts on; a `# dbguard:allow` line above one covers it. */
async function shellStatements(text: string, firstLine: number): Promise<Located[]> {
  const parser = await loadShellParser();
  const tree = parser.parse(text);
  if (!tree) return [{ line: firstLine, command: text, lines: text.split('\n') }];
  try {
    const source = text.split('\n');
    return tree.rootNode.namedChildren.flatMap((node) => {
      if (!node || node.type === 'comment') return [];
      const start = node.startPosition.row;
      const end = node.endPosition.row;
      const above = source[start - 1]?.trim() ?? '';
      const lines = [...source.slice(start, end + 1), ...(above.startsWith('#') ? [above] : [])];
      return [{ line: firstLine + start, command: text.slice(node.startIndex, node.endIndex), lines }];
    });
  } finally {
    tree.delete();
  }
}

/** Lines with `\` continuations joined, each with the line it starts on. */
function logicalLines(text: string): Array<{ line: number; text: string; lines: string[] }> {
  const out: Array<{ line: number; text: string; lines: string[] }> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    const parts = [lines[i]!];
    while (parts.at(-1)!.endsWith('\\') && i + 1 < lines.length) {
      parts[parts.length - 1] = parts.at(-1)!.slice(0, -1);
      parts.push(lines[++i]!);
    }
    const previous = lines[start - 1]?.trim() ?? '';
    out.push({ line: start + 1, text: parts.join(' '), lines: [...lines.slice(start, i + 1), ...(previous.startsWith('#') ? [previous] : [])] });
  }
  return out;
}

/** Scans the files staged for commit, as staged (not as in the working tree). */
export async function scanStaged(repoDir: string): Promise<ScanFinding[]> {
  const git = (args: string[]) => execFileSync('git', args, { cwd: repoDir, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  const top = git(['rev-parse', '--show-toplevel']).trim();
  const files = git(['diff', '--cached', '--name-only', '-z', '--diff-filter=ACMR']).split('\0').filter(Boolean);
  const findings: ScanFinding[] = [];
  for (const file of files) {
    if (!fileKind(file) && !/^[^.]*$/.test(path.basename(file))) continue;
    const text = git(['show', `:${file}`]);
    findings.push(...(await scanText(file, text, path.dirname(path.join(top, file)))));
  }
  return findings;
}
