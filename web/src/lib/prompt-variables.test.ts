import { describe, expect, it } from 'vitest';
import { fillPrompt, promptVariables, replaceSlash, slashQuery } from './prompt-variables.ts';

describe('prompt variables', () => {
  it('finds each {{name}} once, in order, spaces around the name ignored', () => {
    expect(promptVariables('Translate {{text}} into {{ language }}, then {{text}} again')).toEqual([
      'text',
      'language',
    ]);
    expect(promptVariables('no variables {here}')).toEqual([]);
  });

  it('fills the given ones and leaves the others as written (a value with $ stays literal)', () => {
    expect(fillPrompt('Say {{a}} and {{ b }} to {{c}}', { a: '$1 hi', b: 'bye' })).toBe(
      'Say $1 hi and bye to {{c}}',
    );
  });

  it('reads a slash query at the end of the text, on its own line start', () => {
    expect(slashQuery('/')).toBe('');
    expect(slashQuery('/sum')).toBe('sum');
    expect(slashQuery('hello\n/tr')).toBe('tr');
    expect(slashQuery('a/b')).toBeNull();
    expect(slashQuery('/sum more')).toBeNull();
    expect(replaceSlash('hello\n/tr', 'Translate this')).toBe('hello\nTranslate this');
  });
});
