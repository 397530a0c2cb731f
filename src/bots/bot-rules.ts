import { KeywayError } from '../errors.ts';
import type { BotBehaviour, Trigger } from './bot.schema.ts';

/**
 * The pure decisions of a bot, kept apart from I/O so each rule is tested on its own: does a message
 * start a session, is a contact ignored, does a message finish a session, how a reply is split.
 */

/** A compiled keyword trigger: the regex is built once when the bot is loaded, never per message. */
export type TriggerMatcher = (text: string) => boolean;

/** Refuses a regex trigger that does not compile, with the engine's own message. */
export function validateTrigger(trigger: Trigger): void {
  compileTrigger(trigger);
}

export function compileTrigger(trigger: Trigger): TriggerMatcher {
  if (trigger.type === 'all') return () => true;
  if (trigger.type === 'none') return () => false;
  const { operator, caseSensitive } = trigger;
  if (operator === 'regex') {
    let regex: RegExp;
    try {
      regex = new RegExp(trigger.value, caseSensitive ? 'u' : 'iu');
    } catch (error) {
      throw new KeywayError(
        'validation_failed',
        `trigger.value is not a valid regular expression: ${(error as Error).message}`,
        { details: { field: 'trigger.value' } },
      );
    }
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

/** `*` matches any run of characters; everything else is literal; case-insensitive. */
export function compileIgnoreList(patterns: string[]): (contact: string) => boolean {
  if (patterns.length === 0) return () => false;
  const regexes = patterns.map(
    (pattern) => new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`, 'i'),
  );
  return (contact) => regexes.some((regex) => regex.test(contact));
}

const escapeRegex = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function isFinishKeyword(behaviour: Pick<BotBehaviour, 'keywordFinish'>, text: string): boolean {
  const keyword = behaviour.keywordFinish.trim().toLowerCase();
  return keyword !== '' && text.trim().toLowerCase() === keyword;
}

/** Whether a session last active at `lastActivity` has expired by `now`. */
export function isExpired(expireMinutes: number, lastActivity: Date, now: Date): boolean {
  return expireMinutes > 0 && now.getTime() - lastActivity.getTime() > expireMinutes * 60_000;
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
