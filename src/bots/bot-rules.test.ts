import { matchesWildcard } from '../text/wildcard.ts';
import { withoutNul } from '../db/storable-text.ts';
import { describe, expect, it } from 'vitest';
import { KeywayError } from '../errors.ts';
import {
  compileIgnoreList,
  compileTrigger,
  isExpired,
  isFinishKeyword,
  mergeBurst,
  splitReply,
} from './bot-rules.ts';
import { createBotSchema, updateBotSchema } from './bot.schema.ts';

const keyword = (
  operator: 'equals' | 'contains' | 'startsWith' | 'endsWith' | 'regex',
  value: string,
  caseSensitive = false,
) => compileTrigger({ type: 'keyword', operator, value, caseSensitive });

describe('bot rules', () => {
  it('matches each keyword operator, case-insensitively unless asked', () => {
    expect(keyword('equals', 'Hello')('  hello ')).toBe(true);
    expect(keyword('equals', 'Hello')('hello there')).toBe(false);
    expect(keyword('contains', 'price')('What is the PRICE?')).toBe(true);
    expect(keyword('contains', 'price')('cost?')).toBe(false);
    expect(keyword('startsWith', 'hi')('Hi bot')).toBe(true);
    expect(keyword('startsWith', 'hi')('oh hi')).toBe(false);
    expect(keyword('endsWith', 'please')('help me PLEASE')).toBe(true);
    expect(keyword('endsWith', 'please')('please help')).toBe(false);
    expect(keyword('regex', '^order #\\d+$')('ORDER #123')).toBe(true);
    expect(keyword('regex', '^order #\\d+$')('order #12a')).toBe(false);
    expect(keyword('equals', 'Hello', true)('hello')).toBe(false);
    expect(keyword('regex', '^Order', true)('order 1')).toBe(false);
  });

  it('all matches everything, none nothing', () => {
    expect(compileTrigger({ type: 'all' })('anything')).toBe(true);
    expect(compileTrigger({ type: 'none' })('anything')).toBe(false);
  });

  it('refuses a regex that does not compile, naming the field', () => {
    let error: unknown;
    try {
      keyword('regex', '(unclosed');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KeywayError);
    expect((error as KeywayError).code).toBe('validation_failed');
    expect((error as KeywayError).message).toMatch(/trigger\.value/);
  });

  it('ignores contacts by id and by wildcard, and nothing else', () => {
    const ignored = compileIgnoreList(['*@g.us', '5511999990000@s.whatsapp.net']);
    expect(ignored('120363041967849074@g.us')).toBe(true);
    expect(ignored('5511999990000@s.whatsapp.net')).toBe(true);
    expect(ignored('5511999990001@s.whatsapp.net')).toBe(false);
    // Regex characters in a pattern are literal.
    expect(compileIgnoreList(['a.b'])('axb')).toBe(false);
    expect(compileIgnoreList([])('anyone')).toBe(false);
  });

  it('matches backtracking bombs in linear time (RE2 and the wildcard matcher)', () => {
    const timed = (work: () => boolean) => {
      const started = performance.now();
      const result = work();
      return { result, ms: performance.now() - started };
    };
    const bomb = keyword('regex', '^(a+)+$');
    expect(timed(() => bomb('a'.repeat(49_999) + '!'))).toMatchObject({ result: false });
    expect(timed(() => bomb('a'.repeat(49_999) + '!')).ms).toBeLessThan(50);
    expect(bomb('aaaa')).toBe(true);
    const glob = compileIgnoreList(['*a*a*a*a*a*a*a*a*b']);
    expect(timed(() => glob('a'.repeat(200))).ms).toBeLessThan(50);
    expect(glob('a'.repeat(200))).toBe(false);
    expect(glob('x' + 'a'.repeat(8) + 'b')).toBe(true);
  });

  it('matches wildcards like a shell glob with only "*"', () => {
    const cases: [string, string, boolean][] = [
      ['*@g.us', '1203@g.us', true],
      ['*@g.us', '1203@g.usx', false],
      ['a*b*c', 'abc', true],
      ['a*b*c', 'axxbyyc', true],
      ['a*b*c', 'axxbyy', false],
      ['**', '', true],
      ['a**', 'a', true],
      ['*ab', 'aab', true],
      ['*aab', 'aaab', true],
      ['exact', 'exact', true],
      ['exact', 'exactly', false],
      ['', '', true],
      ['', 'x', false],
    ];
    for (const [pattern, text, expected] of cases)
      expect([pattern, text, matchesWildcard(pattern, text)]).toEqual([pattern, text, expected]);
  });

  it('refuses, by name, regexes that need backtracking, and translates JavaScript syntax', () => {
    const codeOf = (value: string) => {
      try {
        keyword('regex', value);
        return 'accepted';
      } catch (error) {
        return `${(error as KeywayError).code}: ${(error as KeywayError).message}`;
      }
    };
    expect(codeOf('(a)\\1')).toMatch(/^unsupported_regex: .*backreference/);
    expect(codeOf('a(?=b)')).toMatch(/^unsupported_regex: .*lookahead/);
    expect(codeOf('a(?!b)')).toMatch(/^unsupported_regex: .*negative lookahead/);
    expect(codeOf('(?<=b)a')).toMatch(/^unsupported_regex: .*lookbehind/);
    expect(codeOf('(.*a){400}')).toMatch(/^unsupported_regex: .*too complex/);
    // Escaped or inside a class, these are plain characters.
    expect(codeOf('\\(?=')).toBe('accepted');
    expect(codeOf('[(?=]')).toBe('accepted');
    expect(keyword('regex', '^\\u00e9t\\u00e9$')('ÉTÉ')).toBe(true);
    expect(keyword('regex', '^(?<n>\\d+)$')('42')).toBe(true);
  });

  it('drops NUL characters and nothing else', () => {
    expect(withoutNul('a\u0000b\u0000')).toBe('ab');
    expect(withoutNul('plain ü')).toBe('plain ü');
  });

  it('finishes on the keyword only, and only when one is set', () => {
    expect(isFinishKeyword({ keywordFinish: '#stop' }, '  #STOP ')).toBe(true);
    expect(isFinishKeyword({ keywordFinish: '#stop' }, '#stop now')).toBe(false);
    expect(isFinishKeyword({ keywordFinish: null }, '')).toBe(false);
  });

  it('expires sessions after the inactivity window, never when it is null', () => {
    const now = new Date('2026-01-01T12:00:00Z');
    expect(isExpired(30, new Date('2026-01-01T11:29:00Z'), now)).toBe(true);
    expect(isExpired(30, new Date('2026-01-01T11:31:00Z'), now)).toBe(false);
    expect(isExpired(null, new Date('2020-01-01T00:00:00Z'), now)).toBe(false);
  });

  it('splits replies on blank lines when enabled', () => {
    expect(splitReply('One.\n\nTwo.\n \n\nThree.', true)).toEqual(['One.', 'Two.', 'Three.']);
    expect(splitReply('One.\n\nTwo.', false)).toEqual(['One.\n\nTwo.']);
    expect(splitReply('Line 1\nLine 2', true)).toEqual(['Line 1\nLine 2']);
  });

  it('merges a burst into one prompt', () => {
    expect(mergeBurst(['hi', '', ' I need ', 'a price'])).toBe('hi\nI need\na price');
  });

  it('fills defaults on create and leaves absent fields absent on update', () => {
    const created = createBotSchema.parse({ name: 'support', credentialId: crypto.randomUUID(), model: 'm' });
    expect(created.trigger).toEqual({ type: 'all' });
    expect(created.historyWindow).toBe(10);
    expect(created.takeover).toEqual({ pauseOnFromMe: true, listenFromMe: false });
    const patch = updateBotSchema.parse({ systemPrompt: 'x' });
    expect(patch).toEqual({ systemPrompt: 'x' });
    expect(() => updateBotSchema.parse({ nope: 1 })).toThrow();
    expect(() =>
      createBotSchema.parse({ name: 'bad name', credentialId: crypto.randomUUID(), model: 'm' }),
    ).toThrow();
  });
});
