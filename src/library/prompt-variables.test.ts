import { describe, expect, it } from 'vitest';
import { promptVariables } from './prompt-variables.ts';

describe('promptVariables', () => {
  it('names the {{placeholders}} in order of first appearance, once each, trimmed', () => {
    expect(
      promptVariables('Dear {{ name }}, about {{topic}}: {{name}} {{due-date}} {{v1.2}} {{a_b}}'),
    ).toEqual(['name', 'topic', 'due-date', 'v1.2', 'a_b']);
  });

  it('leaves what is not a placeholder as text', () => {
    expect(promptVariables('{{}} {{   }} {{a{b}} {{x}y}} {single} {{ünïcode}} {{a/b}} no close {{z')).toEqual(
      [],
    );
    expect(promptVariables(`{{${'n'.repeat(64)}}} {{${'m'.repeat(65)}}}`)).toEqual(['n'.repeat(64)]);
  });

  it('finds a placeholder right after stray braces', () => {
    expect(promptVariables('{{{x}}} and {{{{y}}')).toEqual(['x', 'y']);
  });

  it('reads 100 KB of hostile braces in linear time', () => {
    const started = performance.now();
    expect(promptVariables('{{'.repeat(51_200))).toEqual([]);
    expect(promptVariables(`{{${'a'.repeat(100_000)}`)).toEqual([]);
    expect(promptVariables('{{a'.repeat(34_000) + '}}')).toEqual(['a']);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
