import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KeywayError } from '../errors.ts';
import { masterKeyFrom, type MasterKey } from './cipher.ts';

/** Where the master key comes from: the environment, a file, or (embedded only) the data directory. */
export interface MasterKeySources {
  key?: string | undefined;
  keyFile?: string | undefined;
  previousKey?: string | undefined;
  previousKeyFile?: string | undefined;
}

export const GENERATED_KEY_FILE = 'master.key';
/** The new key of an embedded rotation in progress: readable until the rotation makes it current. */
export const NEXT_KEY_FILE = 'master.key.next';

export interface LoadedMasterKeys {
  current: MasterKey;
  /** Also accepted for reading: KEYWAY_MASTER_KEY_PREVIOUS, or an embedded rotation's next key. */
  readable: MasterKey[];
  /** Set when this start created the key: the caller says loudly that losing it loses the secrets. */
  generatedAt: string | undefined;
}

/** Where a generated master key may live: the embedded data directory; PostgreSQL deployments configure one. */
export type MasterKeyStorage = { kind: 'embedded'; dataDir: string } | { kind: 'postgres' };

/** The master-key storage of a configured database. */
export function masterKeyStorage(
  database: { kind: 'embedded'; dataDir: string } | { kind: 'postgres' },
): MasterKeyStorage {
  return database.kind === 'embedded'
    ? { kind: 'embedded', dataDir: database.dataDir }
    : { kind: 'postgres' };
}

/**
 * Loads the master key. A PostgreSQL deployment must configure one (every node needs the same key);
 * the embedded default generates one on first start, into the data directory, mode 0600.
 */
export function loadMasterKeys(sources: MasterKeySources, storage: MasterKeyStorage): LoadedMasterKeys {
  const previous = readKey(sources.previousKey, sources.previousKeyFile, 'KEYWAY_MASTER_KEY_PREVIOUS');
  const readable = previous ? [previous] : [];
  const configured = readKey(sources.key, sources.keyFile, 'KEYWAY_MASTER_KEY');
  if (configured) return { current: configured, readable, generatedAt: undefined };
  if (storage.kind === 'postgres') {
    throw new KeywayError(
      'master_key_missing',
      'A PostgreSQL deployment needs a master key, and none is configured.',
      {
        fix: 'Generate one with `openssl rand -base64 32`, keep a copy somewhere safe, and give the same key to every node as KEYWAY_MASTER_KEY (or a file named by KEYWAY_MASTER_KEY_FILE).',
      },
    );
  }
  const file = path.join(path.resolve(storage.dataDir), GENERATED_KEY_FILE);
  const next = path.join(path.resolve(storage.dataDir), NEXT_KEY_FILE);
  if (fs.existsSync(next)) readable.push(decodeKey(fs.readFileSync(next, 'utf8'), next));
  if (fs.existsSync(file))
    return { current: decodeKey(fs.readFileSync(file, 'utf8'), file), readable, generatedAt: undefined };
  writeNewKeyFile(file);
  return { current: decodeKey(fs.readFileSync(file, 'utf8'), file), readable, generatedAt: file };
}

/** Writes 32 random bytes as base64 to a new file, readable by this user only. */
export function writeNewKeyFile(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
}

/** Reads a key file written by `writeNewKeyFile` (or by hand). */
export function readKeyFile(file: string): MasterKey {
  return decodeKey(fs.readFileSync(file, 'utf8'), file);
}

function readKey(value: string | undefined, file: string | undefined, name: string): MasterKey | undefined {
  if (value) return decodeKey(value, name);
  if (!file) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new KeywayError(
      'master_key_invalid',
      `Cannot read ${name}_FILE (${file}): ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      {
        fix: `Check the path and that this user may read it.`,
      },
    );
  }
  return decodeKey(text, `${name}_FILE (${file})`);
}

function decodeKey(text: string, source: string): MasterKey {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== 32 || key.toString('base64') !== trimmed) {
    throw new KeywayError('master_key_invalid', `The master key in ${source} is not 32 bytes of base64.`, {
      fix: 'Generate one with `openssl rand -base64 32`.',
    });
  }
  return masterKeyFrom(key);
}
