import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** This Keyway's version, from package.json (recorded with every migration it applies). */
export function appVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}
