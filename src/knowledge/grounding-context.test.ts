import { describe, expect, it } from 'vitest';
import {
  buildContext,
  fuseRanks,
  keywordRank,
  searchWords,
  sourceLabel,
  withinBudget,
} from './grounding-context.ts';

describe('searchWords', () => {
  it('keeps the words that say what is asked, once, lower-cased', () => {
    expect(searchWords('What is the warranty period of the Zephyr pump? The ZEPHYR!')).toEqual([
      'warranty',
      'period',
      'zephyr',
      'pump',
    ]);
    expect(searchWords('¿Cuál es la garantía de la bomba Zephyr 3000?')).toEqual([
      'garantía',
      'bomba',
      'zephyr',
      '3000',
    ]);
  });

  it('searches a question made only of stop words by its words', () => {
    expect(searchWords('Who are you?')).toEqual(['who', 'are', 'you']);
    expect(searchWords('  ?! ')).toEqual([]);
  });
});

describe('fuseRanks', () => {
  it('puts what several lists rank high first, then each list by rank', () => {
    expect(
      fuseRanks([
        ['a', 'b', 'c'],
        ['c', 'd', 'a'],
      ]),
    ).toEqual(['a', 'c', 'b', 'd']);
    expect(fuseRanks([])).toEqual([]);
    expect(fuseRanks([['x', 'y'], []])).toEqual(['x', 'y']);
  });
});

describe('withinBudget', () => {
  it('takes items in order while they fit, skipping one that does not for a shorter one after it', () => {
    const items = [{ tokens: 50 }, { tokens: 80 }, { tokens: 30 }, { tokens: 25 }];
    expect(withinBudget(items, 100)).toEqual([{ tokens: 50 }, { tokens: 30 }]);
    expect(withinBudget(items, 10)).toEqual([]);
  });
});

describe('buildContext', () => {
  const citation = {
    passageId: '7',
    knowledgeBaseId: 'kb',
    fileId: 'f',
    fileName: 'manual.pdf',
    page: 37,
    headings: [],
  };

  it('numbers the sources 1..n in order, labels each with its file and page or headings', () => {
    const { context, citations } = buildContext([
      { citation, text: 'Five years.', tokens: 3 },
      {
        citation: {
          ...citation,
          passageId: null,
          page: null,
          headings: ['Install', 'Linux'],
          fileName: 'guide.md',
        },
        text: 'Run it.',
        tokens: 2,
      },
    ]);
    expect(citations.map((item) => item.n)).toEqual([1, 2]);
    expect(citations[1]).toMatchObject({ passageId: null, fileName: 'guide.md' });
    expect(context).toContain(
      '[1] manual.pdf, page 37\n<<<\nFive years.\n>>>\n\n[2] guide.md, Install > Linux\n<<<\nRun it.\n>>>',
    );
    expect(context).toMatch(/as \[n\]/);
    expect(context).toMatch(/do not contain the answer, say so/);
  });

  it('adds nothing when there are no sources', () => {
    expect(buildContext([])).toEqual({ context: null, citations: [] });
  });

  it('labels a file without page or headings by its name', () => {
    expect(sourceLabel({ fileName: 'notes.txt', page: null, headings: [] })).toBe('notes.txt');
  });
});

describe('keywordRank', () => {
  it('ranks texts by rare words over common ones, leaving out texts with none', () => {
    const texts = [
      'The pump needs oil.',
      'The pump and the valve.',
      'Zephyr pump warranty: five years.',
      'Nothing relevant here.',
    ];
    expect(keywordRank(texts, ['zephyr', 'warranty', 'pump'], 10)).toEqual([2, 0, 1]);
    expect(keywordRank(texts, ['zephyr'], 10)).toEqual([2]);
    expect(keywordRank(texts, [], 10)).toEqual([]);
  });
});
