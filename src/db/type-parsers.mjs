// How both databases hand values over — the pg pool, PGlite in-process and PGlite's worker thread
// (which runs without the TypeScript loader, hence plain JavaScript): the same JavaScript types
// everywhere, so one query serves both backends — int8 as a number, numeric and date as text.
const INT8 = 20;
const NUMERIC = 1700;
const DATE = 1082;
const asText = (value) => value;

export const TYPE_PARSERS = { [INT8]: (value) => Number(value), [NUMERIC]: asText, [DATE]: asText };
