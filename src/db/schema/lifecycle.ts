import {
  migrateUp,
  readSchemaStatus,
  checkDrift,
  type SchemaContext,
  type SchemaStatus,
} from './migrator.ts';
import { SchemaCheckFailed, errorsIn, type SchemaProblem } from './problems.ts';
import { schemaFingerprint } from './verified-schema.ts';

export type MigrateMode = 'auto' | 'check' | 'off';

export interface PreparedSchema {
  /** Migrations this start applied. */
  applied: string[];
  /** Problems tolerated (unexpected objects); the caller logs them. */
  warnings: SchemaProblem[];
}

/**
 * What every start does before the server reports ready, in the order schema-lifecycle.md gives:
 * history problems refuse; pending migrations are applied (`auto`) or refuse (`check`); then the live
 * schema is compared with the expected one. `off` skips all of it. Throws `SchemaCheckFailed`.
 *
 * With `ctx.verified`, the comparison is skipped when the catalog's fingerprint is the one a previous
 * start verified (its warnings are returned again): any change to a table, column, default, index or
 * constraint changes the fingerprint, and the full comparison runs. A `check` start records nothing.
 */
export async function prepareSchema(ctx: SchemaContext, mode: MigrateMode): Promise<PreparedSchema> {
  if (mode === 'off') return { applied: [], warnings: [] };
  const status = await readSchemaStatus(ctx);
  if (errorsIn(status.problems).length > 0) throw new SchemaCheckFailed(status.problems);
  let applied: string[] = [];
  if (status.pending.length > 0) {
    if (mode === 'check') throw new SchemaCheckFailed([behindProblem(status)]);
    // Only now take the cross-node lock: a restart with nothing to do never waits for it.
    ({ applied } = await migrateUp(ctx));
  }
  const fingerprint = ctx.verified
    ? await ctx.database.withSession((session) =>
        schemaFingerprint(session, ctx.expectedDigest ? { digest: ctx.expectedDigest } : ctx.expected),
      )
    : undefined;
  const known = fingerprint === undefined ? null : ctx.verified!.read();
  if (known && known.fingerprint === fingerprint) return { applied, warnings: known.warnings };
  const drift = await checkDrift(ctx);
  if (errorsIn(drift).length > 0) throw new SchemaCheckFailed(drift);
  if (fingerprint !== undefined && mode !== 'check') ctx.verified!.write({ fingerprint, warnings: drift });
  return { applied, warnings: drift };
}

export interface DoctorReport {
  ok: boolean;
  status: SchemaStatus;
  /** null when drift was not checked because migrations are pending or the history has problems. */
  drift: SchemaProblem[] | null;
  /** Every problem, history first, each marked error or warning (warnings are errors under --strict). */
  problems: SchemaProblem[];
}

/** Everything `keyway doctor` checks, without changing anything. */
export async function diagnoseSchema(
  ctx: SchemaContext,
  options: { strict: boolean },
): Promise<DoctorReport> {
  const status = await readSchemaStatus(ctx);
  const problems = [...status.problems];
  if (status.pending.length > 0) problems.push(behindProblem(status));
  const drift = problems.length === 0 ? await checkDrift(ctx) : null;
  if (drift) problems.push(...drift);
  const marked = options.strict
    ? problems.map((problem) => ({ ...problem, severity: 'error' as const }))
    : problems;
  return { ok: errorsIn(marked).length === 0, status, drift, problems: marked };
}

function behindProblem(status: SchemaStatus): SchemaProblem {
  const names = status.pending.map((migration) => migration.name);
  return {
    code: 'schema_behind',
    severity: 'error',
    message: `The database schema is behind this Keyway: ${names.length} migration${names.length === 1 ? '' : 's'} pending (${names.join(', ')}).`,
    fix: 'Run `keyway migrate up` (add --database-url or --data as for serve), or start with --migrate auto.',
  };
}
