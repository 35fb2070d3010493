import { input } from '@inquirer/prompts';

/** Asks the user to type `name`; anything else (or Ctrl-C) is a refusal. */
export async function confirmByTypingName(name: string): Promise<boolean> {
  try {
    const answer = await input({ message: `Type the database name (${name}) to confirm:` }, { output: process.stderr });
    return answer.trim() === name;
  } catch {
    return false;
  }
}
