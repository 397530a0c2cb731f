import { RE2JS, RE2JSException } from 're2js';
import { KeywayError } from '../errors.ts';
import { matchesWildcard } from '../text/wildcard.ts';
import type { BotBehaviour, Trigger } from './bot.schema.ts';

/**
 * The pure decisions of a bot, kept apart from I/O so each rule is tested on its own: does a message
 * start a session, is a contact ignored, does a message finish a session, how a reply is split.
 *
 * Every pattern here comes from a user and runs on text from strangers, so none of them may
 * backtrack: trigger regexes run on RE2 (linear in the text), the ignore list on a wildcard matcher
 * that is O(text × pattern), and the keyword operators are plain string comparisons.
 */

/** A compiled keyword trigger: the regex is built once when the bot is loaded, never per message. */
export type TriggerMatcher = (text: string) => boolean;

/**
 * The largest compiled regex accepted. RE2 is linear in the text, but the constant grows with the
 * program: at this size a 50,000-character message is matched in about 30 ms in the worst case
 * measured (`(.*a){200}!`), while a program of 30,000 instructions took 14 s.
 */
const MAX_REGEX_PROGRAM = 1_000;

/** Refuses a regex trigger that does not compile, or that RE2 cannot run, with a clear 400. */
export function validateTrigger(trigger: Trigger): void {
  compileTrigger(trigger);
}

export function compileTrigger(trigger: Trigger): TriggerMatcher {
  if (trigger.type === 'all') return () => true;
  if (trigger.type === 'none') return () => false;
  const { operator, caseSensitive } = trigger;
  if (operator === 'regex') {
    const regex = compileRegex(trigger.value, caseSensitive);
    return (text) => regex.test(text);
  }
  const fold = (value: string) => (caseSensitive ? value : value.toLowerCase());
  const value = fold(trigger.value.trim());
  switch (operator) {
    case 'equals':
      return (text) => fold(text.trim()) === value;
    case 'contains':
      return (text) => fold(text).includes(value);
    case 'startsWith':
      return (text) => fold(text.trim()).startsWith(value);
    case 'endsWith':
      return (text) => fold(text.trim()).endsWith(value);
  }
}

/**
 * A trigger regex on RE2 (JavaScript syntax such as `\u00e9` or `(?<name>…)` translated first).
 * What RE2 cannot run in linear time — backreferences, lookaround — is refused by name with
 * `unsupported_regex`, as is a program too large to match quickly; a plain syntax error is
 * `validation_failed` with RE2's own message.
 */
function compileRegex(source: string, caseSensitive: boolean): RE2JS {
  const construct = backtrackingConstruct(source);
  if (construct) {
    throw unsupportedRegex(
      `trigger.value uses ${construct}, which needs a backtracking regex engine; Keyway matches triggers in linear time (RE2 syntax). Rewrite the pattern without it.`,
    );
  }
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(RE2JS.translateRegExp(source), caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE);
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    throw new KeywayError(
      'validation_failed',
      `trigger.value is not a valid regular expression: ${error.message}`,
      { details: { field: 'trigger.value' } },
    );
  }
  if (regex.programSize() > MAX_REGEX_PROGRAM) {
    throw unsupportedRegex(
      `trigger.value is too complex (${regex.programSize()} instructions compiled, at most ${MAX_REGEX_PROGRAM}); use fewer or smaller repetition counts.`,
    );
  }
  return regex;
}

/** The first construct of a JavaScript regex that RE2 cannot express, named for the user. */
function backtrackingConstruct(source: string): string | null {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(next)) return `a backreference (\\${next})`;
      if (!inClass && next === 'k' && source[i + 2] === '<') return 'a named backreference (\\k<…>)';
      i++;
    } else if (inClass) {
      if (char === ']') inClass = false;
    } else if (char === '[') {
      inClass = true;
    } else if (char === '(' && source[i + 1] === '?') {
      const kind = source.slice(i + 2, i + 4);
      if (kind.startsWith('=')) return 'a lookahead ((?=…))';
      if (kind.startsWith('!')) return 'a negative lookahead ((?!…))';
      if (kind === '<=') return 'a lookbehind ((?<=…))';
      if (kind === '<!') return 'a negative lookbehind ((?<!…))';
    }
  }
  return null;
}

const unsupportedRegex = (message: string) =>
  new KeywayError('unsupported_regex', message, { details: { field: 'trigger.value' } });

/**
 * The ignore list: `*` matches any run of characters, everything else is literal, case-insensitive.
 * Matched by `matchesWildcard`, never by a regex: `*a*a*a*a*a*b` against a long contact id would
 * backtrack exponentially in a regex engine.
 */
export function compileIgnoreList(patterns: string[]): (contact: string) => boolean {
  if (patterns.length === 0) return () => false;
  const lowered = patterns.map((pattern) => pattern.toLowerCase());
  return (contact) => {
    const text = contact.toLowerCase();
    return lowered.some((pattern) => matchesWildcard(pattern, text));
  };
}

export function isFinishKeyword(behaviour: Pick<BotBehaviour, 'keywordFinish'>, text: string): boolean {
  const keyword = (behaviour.keywordFinish ?? '').trim().toLowerCase();
  return keyword !== '' && text.trim().toLowerCase() === keyword;
}

/** Whether a session last active at `lastActivity` has expired by `now`. */
export function isExpired(expireMinutes: number | null, lastActivity: Date, now: Date): boolean {
  return expireMinutes !== null && now.getTime() - lastActivity.getTime() > expireMinutes * 60_000;
}

/** Splits a reply on blank lines into the messages sent one after another; never returns nothing. */
export function splitReply(reply: string, enabled: boolean): string[] {
  const trimmed = reply.trim();
  if (!enabled) return [trimmed];
  const parts = trimmed
    .split(/\n[ \t]*\n+/)
    .map((part) => part.trim())
    .filter(Boolean);
  return parts.length > 0 ? parts : [trimmed];
}

/** The messages of one debounced burst, as one prompt. */
export function mergeBurst(texts: string[]): string {
  return texts
    .map((text) => text.trim())
    .filter(Boolean)
    .join('\n');
}
