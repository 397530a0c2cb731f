import { describe, expect, it } from 'vitest';
import { chunkSections, estimateTokens } from './chunker.ts';
import type { Section } from './extract.ts';

/** Distinct numbered sentences, so a test can tell which ones a chunk holds. */
const sentences = (count: number, from = 1) =>
  Array.from({ length: count }, (_, index) => `Sentence number ${from + index} says something plain.`);

const numbersIn = (text: string) => [...text.matchAll(/number (\d+)/g)].map((match) => Number(match[1]));

describe('estimateTokens', () => {
  it('counts about four characters of Latin text per token, one per CJK character', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
    expect(estimateTokens('x'.repeat(400))).toBe(100);
    expect(estimateTokens('日本語の文章')).toBe(6);
    expect(estimateTokens('😀')).toBe(1);
  });
});

describe('chunkSections', () => {
  it('keeps a short section whole, with its page and headings, indexed from 0', () => {
    const chunks = chunkSections([
      { text: 'First page text.', page: 1, headings: [] },
      { text: 'Second page text.', page: 2, headings: ['Intro'] },
    ]);
    expect(chunks).toEqual([
      { index: 0, text: 'First page text.', page: 1, headings: [], tokens: 4 },
      { index: 1, text: 'Second page text.', page: 2, headings: ['Intro'], tokens: 5 },
    ]);
  });

  it('never exceeds the maximum, and neighbouring chunks of a section overlap', () => {
    const text = sentences(400).join(' ');
    const chunks = chunkSections([{ text, headings: ['Long'] }], { maxTokens: 100, overlapTokens: 20 });
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) {
      expect(chunk.tokens).toBeLessThanOrEqual(100);
      expect(chunk.tokens).toBe(estimateTokens(chunk.text));
      expect(chunk.headings).toEqual(['Long']);
    }
    // Chunks are cut at sentence ends, and each starts with the sentence(s) the previous one ended with.
    for (let at = 1; at < chunks.length; at++) {
      const previous = numbersIn(chunks[at - 1]!.text);
      const current = numbersIn(chunks[at]!.text);
      expect(chunks[at]!.text).toMatch(/^Sentence number \d+ says something plain\./);
      expect(current[0]).toBeLessThanOrEqual(previous.at(-1)!);
      expect(current[0]).toBeGreaterThan(previous[0]!);
      const shared = chunks[at - 1]!.text.slice(chunks[at - 1]!.text.indexOf(`number ${current[0]} `));
      expect(estimateTokens(shared)).toBeLessThanOrEqual(20 + 3);
    }
    // Nothing is lost: every sentence is in some chunk.
    const seen = new Set(chunks.flatMap((chunk) => numbersIn(chunk.text)));
    expect(seen.size).toBe(400);
  });

  it('prefers paragraph boundaries over sentence boundaries', () => {
    const paragraph = (from: number) => sentences(5, from).join(' ');
    const text = [paragraph(1), paragraph(6), paragraph(11), paragraph(16)].join('\n\n');
    const perParagraph = estimateTokens(paragraph(1));
    const chunks = chunkSections([{ text, headings: [] }], {
      maxTokens: perParagraph * 2 + 5,
      overlapTokens: 0,
    });
    expect(chunks.map((chunk) => chunk.text)).toEqual([
      `${paragraph(1)}\n\n${paragraph(6)}`,
      `${paragraph(11)}\n\n${paragraph(16)}`,
    ]);
  });

  it('never makes a chunk span two pages, even when both pages are short', () => {
    const sections: Section[] = Array.from({ length: 20 }, (_, index) => ({
      text: sentences(index % 3 === 0 ? 60 : 2, index * 100).join(' '),
      page: index + 1,
      headings: [],
    }));
    const chunks = chunkSections(sections, { maxTokens: 120, overlapTokens: 20 });
    for (const chunk of chunks) {
      const page = chunk.page!;
      for (const number of numbersIn(chunk.text)) {
        expect(Math.floor(number / 100) + 1).toBe(page);
      }
    }
    expect(new Set(chunks.map((chunk) => chunk.page)).size).toBe(20);
    expect(chunks.map((chunk) => chunk.index)).toEqual(chunks.map((_, index) => index));
  });

  it('cuts a word longer than a chunk (a base64 blob) by size, losing nothing', () => {
    const blob = 'A'.repeat(5_000);
    const chunks = chunkSections([{ text: `before ${blob} after`, headings: [] }], {
      maxTokens: 100,
      overlapTokens: 10,
    });
    for (const chunk of chunks) expect(chunk.tokens).toBeLessThanOrEqual(100);
    expect(chunks[0]!.text.startsWith('before')).toBe(true);
    expect(chunks.at(-1)!.text.endsWith('after')).toBe(true);
    const as = chunks.reduce((sum, chunk) => sum + (chunk.text.match(/A/g)?.length ?? 0), 0);
    expect(as).toBeGreaterThanOrEqual(5_000);
  });

  it('keeps CJK chunks inside the token budget and splits at full stops', () => {
    const text = '这是一个测试句子。'.repeat(200);
    const chunks = chunkSections([{ text, headings: [] }], { maxTokens: 100, overlapTokens: 10 });
    for (const chunk of chunks) {
      expect(chunk.tokens).toBeLessThanOrEqual(100);
      expect(chunk.text.endsWith('。')).toBe(true);
    }
  });

  it('is deterministic and skips empty sections', () => {
    const sections: Section[] = [
      { text: '   \n\n ', headings: [] },
      { text: sentences(300).join('\n'), page: 4, headings: ['A', 'B'] },
    ];
    const first = chunkSections(sections);
    expect(chunkSections(sections)).toEqual(first);
    expect(first[0]!.index).toBe(0);
    expect(
      first.every((chunk) => chunk.page === 4 && chunk.text.trim() === chunk.text && chunk.text !== ''),
    ).toBe(true);
    for (const chunk of first) expect(chunk.tokens).toBeLessThanOrEqual(400);
  });

  it('refuses options that cannot make progress', () => {
    expect(() => chunkSections([], { maxTokens: 4 })).toThrow(RangeError);
    expect(() => chunkSections([], { maxTokens: 100, overlapTokens: 60 })).toThrow(RangeError);
  });
});
