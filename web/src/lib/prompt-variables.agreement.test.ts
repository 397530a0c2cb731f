import { describe, expect, it } from 'vitest';
import { promptVariables as serverVariables } from '../../../src/library/prompt-variables.ts';
import { promptVariables as detectVariables } from './prompt-variables.ts';

/**
 * The prompt form previews the `{{variables}}` as the person types; the server computes the ones it
 * stores. A preview that disagrees would promise blanks the chat never asks for.
 */
describe('the prompt form previews the variables the server will find', () => {
  const cases = [
    'Summarise {{ text }} for {{audience}} in {{length}} words. Keep {{audience}} in mind.',
    'No variables at all.',
    '{{}} {{ }} {{a{b}} {{{x}}} {{y}}}} {{ inner  space }}',
    '{{not a var!}} {{ok.name-1_x}} {{émoji}} {{tab\there}}',
    `{{${'n'.repeat(64)}}} {{${'n'.repeat(65)}}} {{   ${'m'.repeat(64)}   }}`,
    '{{a}}{{b}}{{a}}{{B}}',
    '{{ unclosed {{closed}}',
    '{' + '{'.repeat(50) + 'deep' + '}'.repeat(50),
  ];
  it.each(cases)('%s', (content) => {
    expect(detectVariables(content)).toEqual(serverVariables(content));
  });

  it('agrees on random text made of braces, name characters and noise', () => {
    const alphabet = ['{', '{{', '}', '}}', 'a', 'b', ' ', '.', '-', '_', '!', 'é', '\n', 'x'];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 2000; round++) {
      const length = Math.floor(random() * 30);
      const content = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      expect(detectVariables(content), JSON.stringify(content)).toEqual(serverVariables(content));
    }
  });
});
