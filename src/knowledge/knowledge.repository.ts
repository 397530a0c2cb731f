import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { DB, IngestionStatus } from '../db/tables.ts';

export interface KnowledgeBaseRecord {
  id: string;
  name: string;
  embeddingModel: string;
  ownerId: string;
  ownerName: string;
  /**
   * The teams it is shared with: all of them for its owner; for anyone else, only the teams through
   * which they read it (the names of other teams are not theirs to see).
   */
  teams: { id: string; name: string }[];
  /** Files in it, and how many of them are ready. */
  fileCount: number;
  readyCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface KnowledgeFileRecord {
  fileId: string;
  name: string;
  mediaType: string;
  status: IngestionStatus;
  embeddedChunks: number;
  totalChunks: number | null;
  error: string | null;
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A claimed ingestion job: the lease id proves this claim still holds it. */
export interface IngestionJob {
  kbId: string;
  fileId: string;
  leaseId: string;
  attempts: number;
  ownerId: string;
  ownerRole: 'admin' | 'member';
  ownerDisabled: boolean;
  embeddingModel: string;
  mediaType: string;
}

/** A chunk with its vector, ready to store. */
export interface EmbeddedChunk {
  index: number;
  text: string;
  page: number | null;
  headings: string[];
  tokens: number;
  embedding: number[];
}

/** Raised by `createBase`/`updateBase` when the owner already has a knowledge base of that name. */
export class DuplicateNameError extends Error {}

/**
 * The one rule of who reads a knowledge base (aliased `kb` in the query): its owner, and every member
 * of a team it is shared with. Every read of knowledge — listing, files, retrieval, passages — uses
 * it; writes stay scoped by `owner_id`.
 */
export function readableBy(eb: ExpressionBuilder<DB & { kb: DB['knowledge_bases'] }, 'kb'>, userId: string) {
  return eb.or([
    eb('kb.owner_id', '=', userId),
    eb.exists(
      eb
        .selectFrom('knowledge_base_teams as kt')
        .innerJoin('team_members as tm', 'tm.team_id', 'kt.team_id')
        .whereRef('kt.kb_id', '=', 'kb.id')
        .where('tm.user_id', '=', userId)
        .select('kt.kb_id'),
    ),
  ]);
}

const isUniqueViolation = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';

/**
 * Knowledge bases, their files (each row also an ingestion job) and their chunks. The user-facing
 * methods take the owner's id and scope every query by it; the worker's methods take a claimed job
 * and check its lease on every write, so a node that lost its lease (expired, or the job was queued
 * again) can no longer change anything.
 */
export class KnowledgeRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** Knowledge bases `userId` may read: their own, and those shared with a team they are in. */
  #bases(userId: string) {
    return this.#db
      .selectFrom('knowledge_bases as kb')
      .innerJoin('users as owner', 'owner.id', 'kb.owner_id')
      .where((eb) => readableBy(eb, userId))
      .select((eb) => [
        'kb.id',
        'kb.name',
        'kb.embedding_model as embeddingModel',
        'kb.owner_id as ownerId',
        'owner.username as ownerName',
        jsonArrayFrom(
          eb
            .selectFrom('knowledge_base_teams as kt')
            .innerJoin('teams as t', 't.id', 'kt.team_id')
            .whereRef('kt.kb_id', '=', 'kb.id')
            .where((inner) =>
              inner.or([
                inner('kb.owner_id', '=', userId),
                inner.exists(
                  inner
                    .selectFrom('team_members as tm')
                    .whereRef('tm.team_id', '=', 'kt.team_id')
                    .where('tm.user_id', '=', userId)
                    .select('tm.user_id'),
                ),
              ]),
            )
            .select(['t.id', 't.name'])
            .orderBy('t.name'),
        ).as('teams'),
        'kb.created_at as createdAt',
        'kb.updated_at as updatedAt',
        eb
          .selectFrom('knowledge_base_files as f')
          .whereRef('f.kb_id', '=', 'kb.id')
          .select(sql<number>`count(*)::int`.as('n'))
          .as('fileCount'),
        eb
          .selectFrom('knowledge_base_files as f')
          .whereRef('f.kb_id', '=', 'kb.id')
          .where('f.status', '=', 'ready')
          .select(sql<number>`count(*)::int`.as('n'))
          .as('readyCount'),
      ]);
  }

  /** The knowledge bases `userId` may read (own and shared), by name. */
  async listBases(userId: string): Promise<KnowledgeBaseRecord[]> {
    const rows = await this.#bases(userId).orderBy('kb.name').orderBy('kb.id').execute();
    return rows.map(counted);
  }

  /** One knowledge base `userId` may read; `ownerId` on the record says whether it is theirs. */
  async findBase(userId: string, id: string): Promise<KnowledgeBaseRecord | undefined> {
    const row = await this.#bases(userId).where('kb.id', '=', id).executeTakeFirst();
    return row && counted(row);
  }

  /**
   * Shares the owner's knowledge base with exactly these teams (replacing the previous set). False
   * when the owner has no such knowledge base.
   */
  async setTeams(ownerId: string, kbId: string, teamIds: readonly string[]): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const base = await trx
        .selectFrom('knowledge_bases')
        .select('id')
        .where('owner_id', '=', ownerId)
        .where('id', '=', kbId)
        .forUpdate()
        .executeTakeFirst();
      if (!base) return false;
      await trx.deleteFrom('knowledge_base_teams').where('kb_id', '=', kbId).execute();
      if (teamIds.length > 0)
        await trx
          .insertInto('knowledge_base_teams')
          .values(teamIds.map((teamId) => ({ kb_id: kbId, team_id: teamId })))
          .execute();
      return true;
    });
  }

  async createBase(
    ownerId: string,
    input: { id: string; name: string; embeddingModel: string },
  ): Promise<KnowledgeBaseRecord> {
    try {
      await this.#db
        .insertInto('knowledge_bases')
        .values({ id: input.id, owner_id: ownerId, name: input.name, embedding_model: input.embeddingModel })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateNameError();
      throw error;
    }
    return (await this.findBase(ownerId, input.id))!;
  }

  /**
   * Renames and/or changes the model. A new model makes every stored vector meaningless: in the same
   * transaction the chunks go and every file is queued again (a worker holding one loses its lease).
   * Returns false when the owner has no such knowledge base.
   */
  async updateBase(
    ownerId: string,
    id: string,
    changes: { name?: string; embeddingModel?: string },
  ): Promise<boolean> {
    try {
      return await this.#db.transaction().execute(async (trx) => {
        const before = await trx
          .selectFrom('knowledge_bases')
          .select('embedding_model')
          .where('owner_id', '=', ownerId)
          .where('id', '=', id)
          .forUpdate()
          .executeTakeFirst();
        if (!before) return false;
        await trx
          .updateTable('knowledge_bases')
          .set({
            ...(changes.name !== undefined ? { name: changes.name } : {}),
            ...(changes.embeddingModel !== undefined ? { embedding_model: changes.embeddingModel } : {}),
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', id)
          .execute();
        if (changes.embeddingModel !== undefined && changes.embeddingModel !== before.embedding_model) {
          await trx.deleteFrom('knowledge_chunks').where('kb_id', '=', id).execute();
          await trx.updateTable('knowledge_base_files').set(QUEUED).where('kb_id', '=', id).execute();
        }
        return true;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new DuplicateNameError();
      throw error;
    }
  }

  /** Deletes the knowledge base (its file entries and chunks cascade); false when not found. */
  async deleteBase(ownerId: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('knowledge_bases')
      .where('owner_id', '=', ownerId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /**
   * Adds the owner's file to the owner's knowledge base and queues it; a file already there stays as
   * it is, unless it failed: then it is queued again. Undefined when the file is not the owner's.
   */
  async addFile(ownerId: string, kbId: string, fileId: string): Promise<KnowledgeFileRecord | undefined> {
    const added = await this.#db
      .insertInto('knowledge_base_files')
      .columns(['kb_id', 'file_id'])
      .expression((eb) =>
        eb
          .selectFrom(['knowledge_bases as kb', 'files as f'])
          .select(['kb.id', 'f.id'])
          .where('kb.owner_id', '=', ownerId)
          .where('f.owner_id', '=', ownerId)
          .where('kb.id', '=', kbId)
          .where('f.id', '=', fileId),
      )
      .onConflict((oc) =>
        oc
          .columns(['kb_id', 'file_id'])
          .doUpdateSet(QUEUED)
          .where('knowledge_base_files.status', '=', 'failed'),
      )
      .executeTakeFirst();
    void added;
    return this.findFile(ownerId, kbId, fileId);
  }

  async findFile(ownerId: string, kbId: string, fileId: string): Promise<KnowledgeFileRecord | undefined> {
    return this.#files(ownerId, kbId).where('kf.file_id', '=', fileId).executeTakeFirst();
  }

  async listFiles(ownerId: string, kbId: string): Promise<KnowledgeFileRecord[]> {
    return this.#files(ownerId, kbId).orderBy('kf.created_at').orderBy('kf.file_id').execute();
  }

  /** The files of a knowledge base `userId` may read. */
  #files(userId: string, kbId: string) {
    return this.#db
      .selectFrom('knowledge_base_files as kf')
      .innerJoin('knowledge_bases as kb', 'kb.id', 'kf.kb_id')
      .innerJoin('files as f', 'f.id', 'kf.file_id')
      .where((eb) => readableBy(eb, userId))
      .where('kf.kb_id', '=', kbId)
      .select([
        'kf.file_id as fileId',
        'f.name',
        'f.media_type as mediaType',
        'kf.status',
        'kf.embedded_chunks as embeddedChunks',
        'kf.total_chunks as totalChunks',
        'kf.error',
        'kf.attempts',
        'kf.created_at as createdAt',
        'kf.updated_at as updatedAt',
      ]);
  }

  /** Removes the file from the knowledge base (its chunks cascade); false when not there. */
  async removeFile(ownerId: string, kbId: string, fileId: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('knowledge_base_files')
      .where('kb_id', '=', kbId)
      .where('file_id', '=', fileId)
      .where('kb_id', 'in', (eb) =>
        eb.selectFrom('knowledge_bases').select('id').where('owner_id', '=', ownerId),
      )
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Chunks stored for a file, in order (for tests and, later, retrieval). */
  async chunks(ownerId: string, kbId: string, fileId: string): Promise<EmbeddedChunk[]> {
    return this.#db
      .selectFrom('knowledge_chunks as c')
      .innerJoin('knowledge_bases as kb', 'kb.id', 'c.kb_id')
      .where('kb.owner_id', '=', ownerId)
      .where('c.kb_id', '=', kbId)
      .where('c.file_id', '=', fileId)
      .select(['c.chunk_index as index', 'c.text', 'c.page', 'c.headings', 'c.tokens', 'c.embedding'])
      .orderBy('c.chunk_index')
      .execute();
  }

  // ------------------------------------------------------------------------------------- the worker

  /**
   * Claims the oldest queued job, or one whose lease expired (its node died), for `leaseMs`. Skips
   * rows another node is claiming at this moment, so two nodes never take the same job.
   */
  async claim(leaseId: string, leaseMs: number): Promise<IngestionJob | undefined> {
    const claimed = await sql<{ kb_id: string; file_id: string; attempts: number }>`
      UPDATE knowledge_base_files AS kf
      SET status = CASE WHEN kf.status = 'queued' THEN 'parsing' ELSE kf.status END,
          leased_by = ${leaseId},
          lease_until = now() + make_interval(secs => ${leaseMs / 1000}),
          attempts = kf.attempts + 1,
          updated_at = now()
      WHERE (kf.kb_id, kf.file_id) = (
        SELECT kb_id, file_id FROM knowledge_base_files
        WHERE status = 'queued' OR (status IN ('parsing', 'embedding') AND lease_until < now())
        ORDER BY updated_at, kb_id, file_id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      RETURNING kf.kb_id, kf.file_id, kf.attempts`.execute(this.#db);
    const row = claimed.rows[0];
    if (!row) return undefined;
    const details = await this.#db
      .selectFrom('knowledge_bases as kb')
      .innerJoin('users as u', 'u.id', 'kb.owner_id')
      .innerJoin('files as f', (join) => join.on('f.id', '=', row.file_id))
      .where('kb.id', '=', row.kb_id)
      .select([
        'kb.owner_id as ownerId',
        'u.role as ownerRole',
        'u.disabled_at as ownerDisabledAt',
        'kb.embedding_model as embeddingModel',
        'f.media_type as mediaType',
      ])
      .executeTakeFirst();
    // Deleted between the claim and this read: the cascade took the job too.
    if (!details) return undefined;
    return {
      kbId: row.kb_id,
      fileId: row.file_id,
      leaseId,
      attempts: row.attempts,
      ownerId: details.ownerId,
      ownerRole: details.ownerRole,
      ownerDisabled: details.ownerDisabledAt !== null,
      embeddingModel: details.embeddingModel,
      mediaType: details.mediaType,
    };
  }

  async content(job: IngestionJob): Promise<Uint8Array | undefined> {
    const row = await this.#db
      .selectFrom('file_contents')
      .select('content')
      .where('file_id', '=', job.fileId)
      .executeTakeFirst();
    return row?.content;
  }

  /** Extends the lease and records progress; false when this claim no longer holds the job. */
  async progress(
    job: IngestionJob,
    leaseMs: number,
    progress: { status?: 'parsing' | 'embedding'; embedded?: number; total?: number } = {},
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('knowledge_base_files')
      .set({
        lease_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})`,
        ...(progress.status ? { status: progress.status, updated_at: sql<Date>`now()` } : {}),
        ...(progress.embedded !== undefined ? { embedded_chunks: progress.embedded } : {}),
        ...(progress.total !== undefined ? { total_chunks: progress.total } : {}),
      })
      .where('kb_id', '=', job.kbId)
      .where('file_id', '=', job.fileId)
      .where('leased_by', '=', job.leaseId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Positions of the chunks already stored (by a node that died mid-job): a resumed job skips them. */
  async storedIndices(job: IngestionJob): Promise<Set<number>> {
    const rows = await this.#db
      .selectFrom('knowledge_chunks')
      .select('chunk_index')
      .where('kb_id', '=', job.kbId)
      .where('file_id', '=', job.fileId)
      .execute();
    return new Set(rows.map((row) => row.chunk_index));
  }

  /**
   * Stores a batch of chunks (replacing any at the same positions) and the progress, in one
   * transaction, only while this claim holds the lease; false (nothing stored) when it does not.
   */
  async storeChunks(
    job: IngestionJob,
    chunks: EmbeddedChunk[],
    embedded: number,
    leaseMs: number,
  ): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const held = await trx
        .updateTable('knowledge_base_files')
        .set({
          embedded_chunks: embedded,
          lease_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})`,
        })
        .where('kb_id', '=', job.kbId)
        .where('file_id', '=', job.fileId)
        .where('leased_by', '=', job.leaseId)
        .executeTakeFirst();
      if (held.numUpdatedRows === 0n) return false;
      const rows = JSON.stringify(
        chunks.map((chunk) => ({
          i: chunk.index,
          t: chunk.text,
          p: chunk.page,
          h: chunk.headings,
          n: chunk.tokens,
          e: chunk.embedding,
        })),
      );
      // One statement a batch, arrays built in SQL: the same on pg and PGlite, whatever their array codecs.
      await sql`
        INSERT INTO knowledge_chunks (kb_id, file_id, chunk_index, text, page, headings, tokens, embedding)
        SELECT ${job.kbId}, ${job.fileId}, c.i, c.t, c.p,
               ARRAY(SELECT h.v FROM jsonb_array_elements_text(c.h) WITH ORDINALITY AS h(v, n) ORDER BY h.n),
               c.n,
               ARRAY(SELECT e.v::real FROM jsonb_array_elements_text(c.e) WITH ORDINALITY AS e(v, n) ORDER BY e.n)
        FROM jsonb_to_recordset(${rows}::jsonb) AS c(i integer, t text, p integer, h jsonb, n integer, e jsonb)
        ON CONFLICT (kb_id, file_id, chunk_index) DO UPDATE
        SET text = excluded.text, page = excluded.page, headings = excluded.headings,
            tokens = excluded.tokens, embedding = excluded.embedding`.execute(trx);
      return true;
    });
  }

  /** Marks the job ready (dropping chunks past the end, left by an older version of the file's parse). */
  async finish(job: IngestionJob, total: number): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const done = await trx
        .updateTable('knowledge_base_files')
        .set({
          status: 'ready',
          embedded_chunks: total,
          total_chunks: total,
          error: null,
          leased_by: null,
          lease_until: null,
          updated_at: sql<Date>`now()`,
        })
        .where('kb_id', '=', job.kbId)
        .where('file_id', '=', job.fileId)
        .where('leased_by', '=', job.leaseId)
        .executeTakeFirst();
      if (done.numUpdatedRows === 0n) return false;
      await trx
        .deleteFrom('knowledge_chunks')
        .where('kb_id', '=', job.kbId)
        .where('file_id', '=', job.fileId)
        .where('chunk_index', '>=', total)
        .execute();
      return true;
    });
  }

  async fail(job: IngestionJob, reason: string): Promise<void> {
    await this.#db
      .updateTable('knowledge_base_files')
      .set({
        status: 'failed',
        error: reason,
        leased_by: null,
        lease_until: null,
        updated_at: sql<Date>`now()`,
      })
      .where('kb_id', '=', job.kbId)
      .where('file_id', '=', job.fileId)
      .where('leased_by', '=', job.leaseId)
      .execute();
  }

  /** Lets another node take the job at once (this one is shutting down). */
  async release(job: IngestionJob): Promise<void> {
    await this.#db
      .updateTable('knowledge_base_files')
      .set({ lease_until: sql<Date>`now()` })
      .where('kb_id', '=', job.kbId)
      .where('file_id', '=', job.fileId)
      .where('leased_by', '=', job.leaseId)
      .execute();
  }
}

const QUEUED = {
  status: 'queued',
  embedded_chunks: 0,
  total_chunks: null,
  error: null,
  attempts: 0,
  leased_by: null,
  lease_until: null,
  updated_at: sql<Date>`now()`,
} as const;

function counted<T extends { fileCount: number | null; readyCount: number | null }>(
  row: T,
): T & { fileCount: number; readyCount: number } {
  return { ...row, fileCount: row.fileCount ?? 0, readyCount: row.readyCount ?? 0 };
}
