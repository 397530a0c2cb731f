import fs from 'node:fs';
import path from 'node:path';
import { AuditLogRepository } from '../audit/audit-log.repository.ts';
import { loadConfig } from '../config/config.ts';
import { CredentialsRepository } from '../credentials/credentials.repository.ts';
import { rotateMasterKey } from '../credentials/master-key-rotation.ts';
import { BotsRepository } from '../bots/bots.repository.ts';
import { resealBotSecrets } from '../bots/bots.service.ts';
import { prepareSchema } from '../db/schema/lifecycle.ts';
import { SettingsRepository } from '../db/settings.repository.ts';
import { KeywayError } from '../errors.ts';
import { Cipher } from '../vault/cipher.ts';
import {
  GENERATED_KEY_FILE,
  NEXT_KEY_FILE,
  loadMasterKeys,
  masterKeyStorage,
  readKeyFile,
  writeNewKeyFile,
} from '../vault/master-key.ts';
import { verifyMasterKey } from '../vault/vault-check.ts';
import { DATABASE_FLAGS, parseFlags, withSchemaContext, type CliIO } from './common.ts';

const USAGE = [
  'keyway vault rotate-master-key [--batch-size 100]',
  '  Embedded database with its generated key (data/master.key): makes a new key and re-seals every secret;',
  '  if interrupted, run it again to continue. Otherwise: set KEYWAY_MASTER_KEY to the new key and',
  '  KEYWAY_MASTER_KEY_PREVIOUS to the old one (on every node too), then run it; drop the previous key after.',
].join('\n');

export async function vaultCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'rotate-master-key') {
    throw new KeywayError('usage', sub ? `Unknown vault command: ${sub}` : 'vault needs a command.', {
      fix: USAGE,
    });
  }
  const { values } = parseFlags(rest, { ...DATABASE_FLAGS, 'batch-size': { type: 'string' } }, USAGE);
  const batchSize = Number(values['batch-size'] ?? 100);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    throw new KeywayError('usage', '--batch-size takes a whole number from 1 to 10000.', { fix: USAGE });
  const config = loadConfig({ data: values.data, 'database-url': values['database-url'] }, io.env);
  const generated = config.database.kind === 'embedded' && !config.masterKey.key && !config.masterKey.keyFile;

  return withSchemaContext(io, values, 'vault rotate-master-key', async (ctx, database) => {
    await prepareSchema(ctx, config.migrate);
    const storage = masterKeyStorage(config.database);
    let cipher: Cipher;
    let finish = () => {};
    if (generated) {
      // The embedded key lives in the data directory: make the next key beside it (or pick up the one
      // an interrupted run made), re-seal under it, then make it the current key.
      const dir = path.resolve((storage as { dataDir: string }).dataDir);
      const currentFile = path.join(dir, GENERATED_KEY_FILE);
      const nextFile = path.join(dir, NEXT_KEY_FILE);
      if (!fs.existsSync(currentFile))
        throw new KeywayError('master_key_missing', `There is no ${currentFile} to rotate.`, {
          fix: 'Start the server once first; it generates the key.',
        });
      const old = readKeyFile(currentFile);
      if (!fs.existsSync(nextFile)) writeNewKeyFile(nextFile);
      const next = readKeyFile(nextFile);
      cipher = new Cipher(next, [old]);
      finish = () => {
        fs.renameSync(currentFile, path.join(dir, `master.key.retired-${old.id}`));
        fs.renameSync(nextFile, currentFile);
        io.out(
          `The new master key is ${currentFile} (id ${next.id}); the old one was kept as master.key.retired-${old.id}. Back up the new one now.\n`,
        );
      };
    } else {
      const keys = loadMasterKeys(config.masterKey, storage);
      cipher = new Cipher(keys.current, keys.readable);
    }
    const settings = new SettingsRepository(database.db);
    await verifyMasterKey(cipher, settings);
    const result = await rotateMasterKey({
      cipher,
      credentials: new CredentialsRepository(database.db),
      settings,
      audit: new AuditLogRepository(database.db),
      logger: ctx.logger,
      batchSize,
      others: [
        {
          name: 'bot channel',
          resealBatch: (size) => resealBotSecrets(cipher, new BotsRepository(database.db), size),
        },
      ],
    });
    finish();
    io.out(
      `Re-sealed ${result.resealed} secret(s) in ${result.batches} batch(es) under master key ${cipher.current.id}.\n`,
    );
    return 0;
  });
}
