import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium, headless, as root, with nothing reaching out to the network on its own. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    // Playwright gives each launch a fresh temporary --user-data-dir and removes it on close.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Where screenshots of the pages go (not committed). */
export function screenshotDir(name: string): string {
  const dir = path.resolve('test-output', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
