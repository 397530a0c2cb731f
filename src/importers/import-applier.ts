import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Role } from '../auth/principal.ts';
import { CredentialsRepository, type CredentialRecord } from '../credentials/credentials.repository.ts';
import { sealSecret } from '../credentials/credential-secrets.ts';
import type { DB } from '../db/tables.ts';
import { FilesRepository } from '../files/files.repository.ts';
import { KnowledgeRepository } from '../knowledge/knowledge.repository.ts';
import { KeywayError } from '../errors.ts';
import { NO_PASSWORD_HASH } from '../users/password.ts';
import { UsersRepository } from '../users/users.repository.ts';
import type { Cipher } from '../vault/cipher.ts';
import { ImportAuditLog } from './import-audit.repository.ts';
import { writeHistory, type HistoryCounts, type HistoryRow } from './history-writer.ts';
import {
  credentialAddress,
  type BotInput,
  type HistoryKind,
  type ImportPlan,
  type PlannedFile,
} from './import-plan.ts';

export type Outcome = 'created' | 'reused' | 'skipped';

/** One line of the final table. */
export interface ImportRow {
  kind: 'user' | 'credential' | 'bot' | 'file' | 'knowledge base' | HistoryKind;
  owner: string;
  name: string;
  outcome: Outcome;
  detail: string;
}

export interface ImportResult {
  dryRun: boolean;
  rows: ImportRow[];
  /** Ids of the credentials created (for the change feed, after commit). */
  createdCredentialIds: string[];
  /** Usernames created without a password. */
  usersWithoutPassword: string[];
  /** Bots created, with the inbound secret their channel webhook needs (shown once, never printed). */
  createdBots: CreatedBot[];
  /** Files queued for ingestion into knowledge bases (the workers are woken after commit). */
  queuedIngestions: number;
  /** With a history to import: what it created and found already imported, per kind. */
  history: HistoryCounts | null;
}

export interface CreatedBot {
  id: string;
  owner: string;
  name: string;
  evolutionInstance: string | null;
  inboundSecret: string;
}

/**
 * Writes bots inside the import's transaction. The bots capability plugs in here; without one, the
 * planned bots are reported as not imported.
 */
export interface BotWriter {
  findByName(trx: Transaction<DB>, ownerId: string, name: string): Promise<{ id: string } | undefined>;
  create(
    trx: Transaction<DB>,
    owner: { id: string; username: string; role: Role },
    input: BotInput & { credentialId: string; fallbackBotId: string | null },
  ): Promise<{ id: string; inboundSecret: string }>;
}

export interface ApplyOptions {
  db: Kysely<DB>;
  cipher: Cipher;
  dryRun: boolean;
  bots?: BotWriter | undefined;
  /** Called after each item inside the transaction; a throw aborts the whole import. */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/** Thrown to roll a dry run back after it has computed exactly what a real run would do. */
class DryRunRollback extends Error {
  constructor(readonly result: ImportResult) {
    super('dry run');
  }
}

/**
 * Applies a plan in ONE transaction: either everything is imported or nothing is. Users are found
 * by username (case-insensitively) or created without a password; a credential is reused when its
 * owner already has one of the same provider, key (fingerprint) and address; bots are found by
 * (owner, name). Rows are written exactly as the credentials service writes them (the same sealing,
 * row-bound encryption, fingerprint and audit entries). A dry run does all of it and rolls back.
 */
export async function applyImport(plan: ImportPlan, options: ApplyOptions): Promise<ImportResult> {
  try {
    return await options.db.transaction().execute(async (trx) => {
      const result = await applyIn(trx, plan, options);
      if (options.dryRun) throw new DryRunRollback(result);
      return result;
    });
  } catch (error) {
    if (error instanceof DryRunRollback) return error.result;
    throw error;
  }
}

async function applyIn(trx: Transaction<DB>, plan: ImportPlan, options: ApplyOptions): Promise<ImportResult> {
  const users = new UsersRepository(trx);
  const credentials = new CredentialsRepository(trx);
  const audit = new ImportAuditLog(trx);
  const { cipher } = options;
  const result: ImportResult = {
    dryRun: options.dryRun,
    rows: [],
    createdCredentialIds: [],
    usersWithoutPassword: [],
    createdBots: [],
    queuedIngestions: 0,
    history: null,
  };
  const total =
    plan.users.length +
    plan.credentials.length +
    plan.bots.length +
    (plan.files?.length ?? 0) +
    (plan.knowledgeBases?.length ?? 0) +
    (plan.history
      ? plan.history.folders.length +
        plan.history.conversations.length +
        plan.history.prompts.length +
        plan.history.presets.length +
        plan.history.assistants.length
      : 0);
  let done = 0;
  const progress = () => options.onProgress?.(++done, total);

  const owners = new Map<string, { id: string; username: string; role: Role }>();
  // Users that exist already, in one query; the ones created here have no credentials to load.
  const existingUsers = new Map((await users.list()).map((user) => [user.username.toLowerCase(), user]));
  const createdUserIds = new Set<string>();
  for (const planned of plan.users) {
    const existing = existingUsers.get(planned.username.toLowerCase());
    if (existing) {
      owners.set(planned.username.toLowerCase(), existing);
      result.rows.push(row('user', existing.username, existing.username, 'reused', planned.origin));
    } else {
      const created = await users.insert({
        id: randomUUID(),
        username: planned.username,
        passwordHash: NO_PASSWORD_HASH,
        role: 'member',
      });
      if (!created) throw new Error(`the username ${planned.username} was taken during the import`);
      await audit.record({
        actorId: null,
        action: 'user.create',
        targetType: 'user',
        targetId: created.id,
        details: { username: created.username, role: created.role, importedFrom: plan.source },
      });
      owners.set(planned.username.toLowerCase(), created);
      createdUserIds.add(created.id);
      result.usersWithoutPassword.push(created.username);
      result.rows.push(
        row('user', created.username, created.username, 'created', `${planned.origin}; no password yet`),
      );
    }
    progress();
  }
  const ownerOf = (username: string) => {
    const owner = owners.get(username.toLowerCase());
    if (!owner) throw new Error(`the plan names user ${username} without planning it`);
    return owner;
  };

  // Each owner's own credentials, loaded once: what reuse and name clashes are decided against.
  const stored = new Map<string, CredentialRecord[]>();
  const storedFor = async (ownerId: string) => {
    let rows = stored.get(ownerId);
    if (!rows) {
      rows = createdUserIds.has(ownerId)
        ? []
        : (await credentials.listVisible({ userId: ownerId, admin: false })).filter(
            (record) => record.ownerId === ownerId,
          );
      stored.set(ownerId, rows);
    }
    return rows;
  };
  const credentialIds = new Map<string, string>();
  // The name each planned credential was stored (or found) under: how models name it.
  const credentialNames = new Map<string, string>();
  for (const planned of plan.credentials) {
    const owner = ownerOf(planned.owner);
    const own = await storedFor(owner.id);
    const fingerprint = planned.secret === null ? null : cipher.fingerprint(planned.secret);
    const address = credentialAddress(planned.settings);
    const same = own.find(
      (record) =>
        record.provider === planned.provider &&
        record.fingerprint === fingerprint &&
        credentialAddress(record.settings) === address,
    );
    if (same) {
      credentialIds.set(planned.ref, same.id);
      credentialNames.set(planned.ref, same.name);
      result.rows.push(
        row('credential', owner.username, same.name, 'reused', `${planned.origin}; same key already stored`),
      );
      progress();
      continue;
    }
    const taken = new Set(own.map((record) => record.name.toLowerCase()));
    let name = planned.name;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${planned.name}-${n}`;
    const id = randomUUID();
    const inserted = await credentials.insert({
      id,
      ownerId: owner.id,
      createdBy: owner.id,
      provider: planned.provider,
      name,
      settings: planned.settings,
      prices: {},
      grantToEveryone: false,
      ...sealSecret(cipher, planned.secret, {
        id,
        ownerId: owner.id,
        provider: planned.provider,
        version: 1,
      }),
    });
    if (!inserted) throw new Error(`the credential name ${name} was taken during the import`);
    await audit.record({
      actorId: null,
      action: 'credential.create',
      targetType: 'credential',
      targetId: id,
      details: { name, provider: planned.provider, shared: false, importedFrom: plan.source },
    });
    own.push(inserted);
    credentialIds.set(planned.ref, id);
    credentialNames.set(planned.ref, name);
    result.createdCredentialIds.push(id);
    result.rows.push(
      row(
        'credential',
        owner.username,
        name,
        'created',
        `${planned.provider}, ${inserted.hint}; ${planned.origin}${name === planned.name ? '' : ` (renamed: "${planned.name}" was taken)`}`,
      ),
    );
    progress();
  }

  const botIds = new Map<string, string>();
  for (const planned of plan.bots) {
    const owner = ownerOf(planned.owner);
    const key = `${owner.id}\u0000${planned.input.name.toLowerCase()}`;
    if (!options.bots) {
      result.rows.push(
        row('bot', owner.username, planned.input.name, 'skipped', 'this Keyway has no bots capability yet'),
      );
      progress();
      continue;
    }
    const existing = await options.bots.findByName(trx, owner.id, planned.input.name);
    if (existing) {
      botIds.set(key, existing.id);
      result.rows.push(row('bot', owner.username, planned.input.name, 'reused', planned.origin));
      progress();
      continue;
    }
    const credentialId = credentialIds.get(planned.credentialRef);
    if (!credentialId) throw new Error(`bot ${planned.input.name} names an unplanned credential`);
    const fallbackBotId =
      planned.fallbackBotName === null
        ? null
        : (botIds.get(`${owner.id}\u0000${planned.fallbackBotName.toLowerCase()}`) ?? null);
    if (planned.fallbackBotName !== null && fallbackBotId === null) {
      throw new KeywayError(
        'import_failed',
        `bot ${planned.input.name} falls back to ${planned.fallbackBotName}, which was not imported first`,
      );
    }
    const created = await options.bots.create(trx, owner, { ...planned.input, credentialId, fallbackBotId });
    botIds.set(key, created.id);
    result.createdBots.push({
      id: created.id,
      owner: owner.username,
      name: planned.input.name,
      evolutionInstance: planned.input.channels?.evolution?.instance ?? null,
      inboundSecret: created.inboundSecret,
    });
    result.rows.push(
      row(
        'bot',
        owner.username,
        planned.input.name,
        'created',
        `${planned.origin}; webhook /hooks/evolution/${created.id}`,
      ),
    );
    progress();
  }

  const fileIds = new Map<string, string>();
  for (const planned of plan.files ?? []) {
    const owner = ownerOf(planned.owner);
    const { id, reused } = await writeTextFile(trx, owner.id, planned);
    fileIds.set(planned.ref, id);
    if (!reused) {
      await audit.record({
        actorId: null,
        action: 'file.create',
        targetType: 'file',
        targetId: id,
        details: { name: planned.name, mediaType: planned.mediaType, importedFrom: plan.source },
      });
    }
    result.rows.push(
      row(
        'file',
        owner.username,
        planned.name,
        reused ? 'reused' : 'created',
        reused ? `${planned.origin}; the same text is stored` : planned.origin,
      ),
    );
    progress();
  }
  const knowledge = new KnowledgeRepository(trx);
  // Each owner's own knowledge bases, read once (a collection per row would read them per row).
  const basesOf = new Map<string, Map<string, string>>();
  const knowledgeBaseIds = new Map<string, string>();
  for (const planned of plan.knowledgeBases ?? []) {
    const owner = ownerOf(planned.owner);
    let bases = basesOf.get(owner.id);
    if (!bases) {
      bases = new Map(
        (await knowledge.listBases(owner.id))
          .filter((base) => base.ownerId === owner.id)
          .map((base) => [base.name.toLowerCase(), base.id]),
      );
      basesOf.set(owner.id, bases);
    }
    const existingId = bases.get(planned.name.toLowerCase());
    const existing = existingId === undefined ? undefined : { id: existingId };
    const kbId = existing?.id ?? randomUUID();
    if (planned.ref) knowledgeBaseIds.set(`${owner.username.toLowerCase()}\u0000${planned.ref}`, kbId);
    if (!existing) {
      await knowledge.createBase(owner.id, {
        id: kbId,
        name: planned.name,
        embeddingModel: planned.embeddingModel,
      });
      bases.set(planned.name.toLowerCase(), kbId);
    }
    const before = existing
      ? new Set((await knowledge.listFiles(owner.id, kbId)).map((f) => f.fileId))
      : null;
    let added = 0;
    for (const ref of planned.fileRefs) {
      const fileId = fileIds.get(ref);
      if (!fileId || before?.has(fileId)) continue;
      await knowledge.addFile(owner.id, kbId, fileId);
      added++;
    }
    result.queuedIngestions += added;
    const detail = `${planned.origin}; ${added} file(s) queued to embed with ${planned.embeddingModel}`;
    result.rows.push(
      row('knowledge base', owner.username, planned.name, existing ? 'reused' : 'created', detail),
    );
    progress();
  }

  if (plan.history) {
    const written = await writeHistory(plan.history, {
      trx,
      source: plan.source,
      audit,
      ownerOf,
      modelName: (model) => {
        const credential =
          model.credentialRef === null ? undefined : credentialNames.get(model.credentialRef);
        return credential ? `${credential}/${model.model}` : model.model;
      },
      fileId: (ref) => fileIds.get(ref),
      knowledgeBaseId: (owner, ref) => knowledgeBaseIds.get(`${owner.toLowerCase()}\u0000${ref}`),
      progress,
    });
    result.history = written.counts;
    for (const counted of written.rows) result.rows.push(historyRow(counted));
  }

  await audit.flush();
  for (const skipped of plan.skipped) {
    result.rows.push(
      row(
        skipped.kind === 'source' ? 'credential' : skipped.kind,
        '',
        skipped.origin,
        'skipped',
        skipped.message,
      ),
    );
  }
  return result;
}

/**
 * Stores a text as one of the owner's files, or finds it already stored (same name and content: a
 * second run stores nothing twice).
 */
async function writeTextFile(
  trx: Transaction<DB>,
  ownerId: string,
  planned: PlannedFile,
): Promise<{ id: string; reused: boolean }> {
  const content = new TextEncoder().encode(planned.text);
  const sha256 = createHash('sha256').update(content).digest('hex');
  const files = new FilesRepository(trx);
  const same = await files.findByContent(ownerId, planned.name, sha256);
  if (same) return { id: same.id, reused: true };
  const record = await files.insert(ownerId, {
    id: randomUUID(),
    name: planned.name,
    mediaType: planned.mediaType,
    kind: 'document',
    sha256,
    content,
  });
  return { id: record.id, reused: false };
}

const HISTORY_NAMES: Record<HistoryKind, string> = {
  folder: 'folder(s)',
  conversation: 'conversation(s)',
  prompt: 'prompt(s)',
  preset: 'preset(s)',
  assistant: 'assistant(s)',
};

/** A history is counted, not listed: one line per kind, owner and outcome. */
function historyRow(counted: HistoryRow): ImportRow {
  const detail =
    counted.outcome === 'reused'
      ? 'imported by an earlier run: left as it is'
      : counted.kind === 'conversation'
        ? `with ${counted.messages} message(s)`
        : '';
  return row(
    counted.kind,
    counted.owner,
    `${counted.count} ${HISTORY_NAMES[counted.kind]}`,
    counted.outcome,
    detail,
  );
}

function row(
  kind: ImportRow['kind'],
  owner: string,
  name: string,
  outcome: Outcome,
  detail: string,
): ImportRow {
  return { kind, owner, name, outcome, detail };
}
