import { describe, expect, it } from 'vitest';
import { highlight, languageOf } from './highlight.ts';

const kinds = (code: string, lang: string) =>
  highlight(code, lang)
    .filter((token) => token.kind !== 'plain')
    .map((token) => `${token.kind}:${token.text}`);

describe('highlight', () => {
  it('gives back exactly the input when the tokens are joined', () => {
    const samples: [string, string][] = [
      ['const x = `a ${b}` + "c" // d\n/* e */ f(1.5e3)', 'ts'],
      ['def f(x):\n    """doc"""\n    return x # c', 'python'],
      ["SELECT id FROM t WHERE a = 'x' -- c", 'sql'],
      ['{"a": [1, true, null]}', 'json'],
      ['<div class="a">x</div>', 'html'],
      ['echo "$HOME" # hi', 'bash'],
      ['unterminated "string', 'weird-lang'],
    ];
    for (const [code, lang] of samples)
      expect(
        highlight(code, lang)
          .map((t) => t.text)
          .join(''),
      ).toBe(code);
  });

  it('marks keywords, strings, comments, numbers and calls', () => {
    expect(kinds('const x = "hi"; // note\nfoo(42)', 'typescript')).toEqual([
      'keyword:const',
      'string:"hi"',
      'comment:// note',
      'function:foo',
      'number:42',
    ]);
    expect(kinds('def go(): return None # done', 'py')).toEqual([
      'keyword:def',
      'function:go',
      'keyword:return',
      'type:None',
      'comment:# done',
    ]);
    expect(kinds('select 1 from t', 'sql')).toEqual(['keyword:select', 'number:1', 'keyword:from']);
    expect(kinds('{"key": "value"}', 'json')).toEqual(['tag:"key"', 'string:"value"']);
  });

  it('maps aliases and falls back to generic rules', () => {
    expect(languageOf('TSX')).toBe('js');
    expect(languageOf('sh')).toBe('shell');
    expect(languageOf('brainfuck')).toBe('generic');
    expect(kinds('x = "s" # c', 'unknown')).toEqual(['string:"s"', 'comment:# c']);
  });
});
