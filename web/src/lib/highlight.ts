/**
 * A small syntax highlighter for code blocks: one sticky-regex tokenizer, a table of languages
 * (keywords, comment and string styles). It returns tokens, never HTML; unknown languages get the
 * generic rules (strings, numbers, comments of the common styles).
 */

export type TokenKind = 'keyword' | 'string' | 'comment' | 'number' | 'function' | 'type' | 'tag' | 'plain';
export interface Token {
  kind: TokenKind;
  text: string;
}

interface Language {
  keywords: Set<string>;
  /** Literals and built-in types, shown like types. */
  types?: Set<string>;
  rules: [TokenKind, RegExp][];
}

const words = (list: string) => new Set(list.split(/\s+/).filter(Boolean));
const sticky = (source: string, flags = '') => new RegExp(source, 'y' + flags);

const C_COMMENTS: [TokenKind, RegExp][] = [
  ['comment', sticky(String.raw`\/\/[^\n]*`)],
  ['comment', sticky(String.raw`\/\*[\s\S]*?(?:\*\/|$)`)],
];
const HASH_COMMENT: [TokenKind, RegExp] = ['comment', sticky(String.raw`#[^\n]*`)];
const DQ: [TokenKind, RegExp] = ['string', sticky(String.raw`"(?:[^"\\\n]|\\.)*"?`)];
const SQ: [TokenKind, RegExp] = ['string', sticky(String.raw`'(?:[^'\\\n]|\\.)*'?`)];
const BQ: [TokenKind, RegExp] = ['string', sticky(String.raw`\x60(?:[^\x60\\]|\\[\s\S])*\x60?`)];
const NUMBER: [TokenKind, RegExp] = [
  'number',
  sticky(String.raw`\b(?:0[xX][\da-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?n?)\b`),
];

const JS_KEYWORDS = words(`await break case catch class const continue debugger default delete do else export
  extends finally for from function if import in instanceof let new of return static super switch this throw try
  typeof var void while with yield async as interface type enum implements private public protected readonly
  declare namespace abstract satisfies keyof`);
const JS_TYPES = words(`true false null undefined NaN Infinity string number boolean any unknown never object
  void bigint symbol Promise Array Map Set Record`);

const LANGUAGES: Record<string, Language> = {
  js: { keywords: JS_KEYWORDS, types: JS_TYPES, rules: [...C_COMMENTS, DQ, SQ, BQ, NUMBER] },
  python: {
    keywords: words(`and as assert async await break class continue def del elif else except finally for from
      global if import in is lambda nonlocal not or pass raise return try while with yield match case`),
    types: words(`True False None self int str float bool list dict set tuple bytes`),
    rules: [
      HASH_COMMENT,
      ['string', sticky(String.raw`[rRbBfF]{0,2}(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$))`)],
      DQ,
      SQ,
      NUMBER,
    ],
  },
  shell: {
    keywords: words(`if then else elif fi for while until do done case esac in function return export local
      echo exit set unset source cd sudo`),
    rules: [HASH_COMMENT, DQ, SQ, ['type', sticky(String.raw`\$\{?[\w@#?*!-]+\}?`)], NUMBER],
  },
  go: {
    keywords: words(`break case chan const continue default defer else fallthrough for func go goto if import
      interface map package range return select struct switch type var`),
    types: words(`true false nil iota int int64 int32 uint uint64 string bool byte rune error float64 any`),
    rules: [...C_COMMENTS, DQ, ['string', sticky(String.raw`'(?:[^'\\\n]|\\.)*'`)], BQ, NUMBER],
  },
  rust: {
    keywords: words(`as async await break const continue crate dyn else enum extern fn for if impl in let loop
      match mod move mut pub ref return static struct super trait type unsafe use where while`),
    types:
      words(`true false self Self i32 i64 u8 u32 u64 usize isize f32 f64 bool str String Vec Option Result
      Some None Ok Err Box`),
    rules: [...C_COMMENTS, DQ, NUMBER],
  },
  c: {
    keywords: words(`auto break case catch class const constexpr continue default delete do else enum explicit
      extern for friend goto if inline namespace new operator private protected public return sizeof static
      struct switch template this throw try typedef typename union using virtual volatile while import package
      extends implements final abstract interface synchronized throws var val fun when object override`),
    types: words(`true false null nullptr NULL void int long short char float double bool unsigned signed
      size_t String Integer boolean byte`),
    rules: [...C_COMMENTS, ['keyword', sticky(String.raw`#\s*\w+`)], DQ, SQ, NUMBER],
  },
  sql: {
    keywords: words(`select from where and or not insert into values update set delete create table index
      alter drop join left right inner outer full on group by order having limit offset as distinct union all
      primary key foreign references default null is in exists between like case when then else end returning
      with begin commit rollback if cascade unique check constraint`),
    types:
      words(`true false integer int bigint text varchar char boolean timestamptz timestamp date jsonb json
      uuid bytea serial numeric real`),
    rules: [['comment', sticky(String.raw`--[^\n]*`)], C_COMMENTS[1]!, SQ, DQ, NUMBER],
  },
  json: {
    keywords: new Set(),
    types: words('true false null'),
    rules: [['tag', sticky(String.raw`"(?:[^"\\\n]|\\.)*"(?=\s*:)`)], DQ, NUMBER],
  },
  yaml: {
    keywords: new Set(),
    types: words('true false null yes no on off'),
    rules: [HASH_COMMENT, ['tag', sticky(String.raw`[\w.-]+(?=\s*:(?:\s|$))`)], DQ, SQ, NUMBER],
  },
  css: {
    keywords: words('important media import supports keyframes from to'),
    rules: [
      C_COMMENTS[1]!,
      DQ,
      SQ,
      ['tag', sticky(String.raw`[.#]?[\w-]+(?=[^{};]*\{)`)],
      ['function', sticky(String.raw`[\w-]+(?=\s*:)`)],
      ['number', sticky(String.raw`#[\da-fA-F]{3,8}\b|-?\d+(?:\.\d+)?(?:px|em|rem|%|vh|vw|s|ms)?`)],
    ],
  },
  html: {
    keywords: new Set(),
    rules: [
      ['comment', sticky(String.raw`<!--[\s\S]*?(?:-->|$)`)],
      ['tag', sticky(String.raw`<\/?[\w:-]+|\/?>`)],
      ['function', sticky(String.raw`[\w:-]+(?==)`)],
      DQ,
      SQ,
    ],
  },
  generic: { keywords: new Set(), rules: [...C_COMMENTS, HASH_COMMENT, DQ, SQ, NUMBER] },
};

const ALIASES: Record<string, string> = {
  javascript: 'js',
  jsx: 'js',
  ts: 'js',
  tsx: 'js',
  typescript: 'js',
  mjs: 'js',
  cjs: 'js',
  py: 'python',
  python3: 'python',
  sh: 'shell',
  bash: 'shell',
  zsh: 'shell',
  console: 'shell',
  shell: 'shell',
  golang: 'go',
  rs: 'rust',
  cpp: 'c',
  'c++': 'c',
  h: 'c',
  hpp: 'c',
  cs: 'c',
  csharp: 'c',
  java: 'c',
  kotlin: 'c',
  kt: 'c',
  swift: 'c',
  postgres: 'sql',
  postgresql: 'sql',
  psql: 'sql',
  mysql: 'sql',
  sqlite: 'sql',
  jsonc: 'json',
  json5: 'json',
  yml: 'yaml',
  scss: 'css',
  less: 'css',
  xml: 'html',
  svg: 'html',
  vue: 'html',
};

export function languageOf(lang: string): string {
  const key = lang.toLowerCase();
  if (LANGUAGES[key]) return key;
  return ALIASES[key] ?? 'generic';
}

const IDENTIFIER = /[A-Za-z_$][\w$]*/y;

/** Splits code into tokens; adjacent plain text is merged. Joining the texts gives the input back. */
export function highlight(code: string, lang: string): Token[] {
  const language = LANGUAGES[languageOf(lang)]!;
  const tokens: Token[] = [];
  const push = (kind: TokenKind, text: string) => {
    const last = tokens[tokens.length - 1];
    if (last && last.kind === kind && kind === 'plain') last.text += text;
    else tokens.push({ kind, text });
  };
  let at = 0;
  outer: while (at < code.length) {
    for (const [kind, rule] of language.rules) {
      rule.lastIndex = at;
      const match = rule.exec(code);
      if (match && match[0].length > 0) {
        push(kind, match[0]);
        at += match[0].length;
        continue outer;
      }
    }
    IDENTIFIER.lastIndex = at;
    const word = IDENTIFIER.exec(code);
    if (word) {
      const text = word[0];
      const lower = language === LANGUAGES.sql ? text.toLowerCase() : text;
      const kind: TokenKind = language.keywords.has(lower)
        ? 'keyword'
        : language.types?.has(lower)
          ? 'type'
          : /^\s*\(/.test(code.slice(at + text.length, at + text.length + 3))
            ? 'function'
            : 'plain';
      push(kind, text);
      at += text.length;
      continue;
    }
    push('plain', code[at]!);
    at++;
  }
  return tokens;
}
