import { describe, expect, it } from 'vitest';
import { match, safeNext } from './router.ts';

describe('match', () => {
  it('matches patterns and decodes parameters', () => {
    expect(match('/chat/:id', '/chat/abc%20d')).toEqual({ id: 'abc d' });
    expect(match('/chat/:id', '/chat')).toBeNull();
    expect(match('/bots/:id', '/bots/b1/')).toEqual({ id: 'b1' });
    expect(match('/', '/')).toEqual({});
  });
});

describe('safeNext', () => {
  it('returns to paths of this app only', () => {
    expect(safeNext('/usage?x=1')).toBe('/usage?x=1');
    expect(safeNext(null)).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('//evil.example')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('/login?next=/x')).toBe('/');
  });
});
