import { KeywayError } from '../../errors.ts';

/** Every way the schema can be wrong, each with a stable code. */
export type SchemaProblemCode =
  | 'schema_behind'
  | 'schema_ahead'
  | 'checksum_mismatch'
  | 'migration_unfinished'
  | 'table_missing'
  | 'column_missing'
  | 'column_changed'
  | 'index_missing'
  | 'index_changed'
  | 'constraint_missing'
  | 'constraint_changed'
  | 'unexpected_table'
  | 'unexpected_column'
  | 'unexpected_index'
  | 'unexpected_constraint';

export interface SchemaProblem {
  code: SchemaProblemCode;
  /** `warning` is reported and tolerated, except by `keyway doctor --strict`. */
  severity: 'error' | 'warning';
  /** The facts, in plain words. */
  message: string;
  /** The exact fix: a command or SQL to run. */
  fix: string;
}

/** Thrown when the schema cannot be used; carries every problem found, the first error decides the code. */
export class SchemaCheckFailed extends KeywayError {
  readonly problems: SchemaProblem[];

  constructor(problems: SchemaProblem[]) {
    const errors = problems.filter((problem) => problem.severity === 'error');
    const first = errors[0] ?? problems[0];
    if (!first) throw new Error('SchemaCheckFailed needs at least one problem');
    const more =
      errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
    super(first.code, first.message + more, { fix: first.fix, details: { problems } });
    this.problems = problems;
  }
}

export function errorsIn(problems: SchemaProblem[], strict = false): SchemaProblem[] {
  return strict ? problems : problems.filter((problem) => problem.severity === 'error');
}

/** A PostgreSQL identifier as it must be written in SQL. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
