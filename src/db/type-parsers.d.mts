/** Value parsers by PostgreSQL type oid, shared by both backends (see type-parsers.mjs). */
export declare const TYPE_PARSERS: Record<number, (value: string) => unknown>;
