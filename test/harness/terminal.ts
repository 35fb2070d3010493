import { spawn } from 'node:child_process';
import { CLI, type CliResult } from './cli.js';

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the built CLI on a real pseudo-terminal (util-linux `script`), waits for `prompt` in its output and types
 * `answer` followed by Enter. stdout and stderr arrive mixed, as on a terminal.
 */
export function runInTerminal(
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; prompt: RegExp; answer: string },
): Promise<CliResult & { prompted: boolean }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, CLI, ...args].map(quote).join(' ');
    const env = { ...process.env, DATABASE_URL: undefined, NO_COLOR: '1', ...options.env } as NodeJS.ProcessEnv;
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let prompted = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (!prompted && options.prompt.test(output)) {
        prompted = true;
        child.stdin.write(`${options.answer}\r`);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: output, stderr: '', prompted });
    });
  });
}
