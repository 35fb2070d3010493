/** Asks the user to type `name`; anything else (or Ctrl-C) is a refusal. */
export async function confirmByTypingName(name: string): Promise<boolean> {
  // Loaded here, not on start-up: the prompt library costs ~0.13 s to load, and --yes or a refusal needs none of it.
  const { input } = await import('@inquirer/prompts');
  try {
    const answer = await input({ message: `Type the database name (${name}) to confirm:` }, { output: process.stderr });
    return answer.trim() === name;
  } catch {
    return false;
  }
}
