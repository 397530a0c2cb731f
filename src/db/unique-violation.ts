/** Whether a database error is a unique-constraint violation (SQLSTATE 23505), on either backend. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}
