import { describe, expect, it } from 'vitest';
import type { SchemaShape } from './catalog.ts';
import { diffSchema, type ExpectedSchema } from './drift.ts';

const expected: ExpectedSchema = {
  migrations: ['0001_things'],
  tables: {
    things: {
      createdBy: '0001_things',
      columns: {
        id: { type: 'bigint', nullable: false, default: null, identity: 'always', generated: null },
        name: { type: 'text', nullable: false, default: null, identity: null, generated: null },
        note: { type: 'text', nullable: true, default: "''::text", identity: null, generated: null },
      },
      indexes: {
        things_pkey: {
          unique: true,
          primary: true,
          method: 'btree',
          columns: ['id'],
          where: null,
          definition: 'CREATE UNIQUE INDEX things_pkey ON things USING btree (id)',
        },
        things_name_idx: {
          unique: false,
          primary: false,
          method: 'btree',
          columns: ['name'],
          where: null,
          definition: 'CREATE INDEX things_name_idx ON things USING btree (name)',
        },
      },
      constraints: { things_pkey: { type: 'primary key', definition: 'PRIMARY KEY (id)' } },
    },
  },
};

function live(mutate: (shape: SchemaShape) => void = () => {}): SchemaShape {
  const { migrations: _migrations, ...shape } = structuredClone(expected);
  for (const table of Object.values(shape.tables)) delete (table as { createdBy?: string }).createdBy;
  mutate(shape);
  return shape;
}

describe('diffSchema', () => {
  it('finds nothing when the live schema is the expected one', () => {
    expect(diffSchema(expected, live())).toEqual([]);
  });

  it('names a missing table with the migration that creates it', () => {
    const [problem] = diffSchema(expected, { tables: {} });
    expect(problem).toMatchObject({
      code: 'table_missing',
      severity: 'error',
      message: 'table things is missing',
    });
    expect(problem!.fix).toContain('0001_things');
  });

  it('names changed type, nullability and default, each with the SQL that restores it', () => {
    const problems = diffSchema(
      expected,
      live((shape) => {
        const columns = shape.tables.things!.columns;
        columns.name = { ...columns.name!, type: 'character varying(10)', nullable: true };
        columns.note = { ...columns.note!, default: null };
      }),
    );
    expect(problems.map((problem) => [problem.code, problem.message, problem.fix])).toEqual([
      [
        'column_changed',
        'column things.name has type character varying(10); Keyway expects text',
        'ALTER TABLE things ALTER COLUMN name TYPE text;',
      ],
      [
        'column_changed',
        'column things.name allows NULL; Keyway expects NOT NULL',
        'ALTER TABLE things ALTER COLUMN name SET NOT NULL;',
      ],
      [
        'column_changed',
        "column things.note has default none; Keyway expects ''::text",
        "ALTER TABLE things ALTER COLUMN note SET DEFAULT ''::text;",
      ],
    ]);
  });

  it('reports a missing primary key once (its index goes with it) and a missing index with its CREATE statement', () => {
    const problems = diffSchema(
      expected,
      live((shape) => {
        delete shape.tables.things!.constraints.things_pkey;
        delete shape.tables.things!.indexes.things_pkey;
        delete shape.tables.things!.indexes.things_name_idx;
      }),
    );
    expect(problems.map((problem) => [problem.code, problem.fix])).toEqual([
      ['constraint_missing', 'ALTER TABLE things ADD CONSTRAINT things_pkey PRIMARY KEY (id);'],
      ['index_missing', 'CREATE INDEX things_name_idx ON things USING btree (name);'],
    ]);
  });

  it('reports an index that became UNIQUE as changed', () => {
    const problems = diffSchema(
      expected,
      live((shape) => {
        shape.tables.things!.indexes.things_name_idx!.unique = true;
      }),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'index_changed', severity: 'error' });
    expect(problems[0]!.message).toBe(
      'index things_name_idx on things is UNIQUE btree (name); Keyway expects btree (name)',
    );
  });

  it('warns about unexpected objects, naming a NOT NULL column that blocks inserts and a UNIQUE constraint once', () => {
    const problems = diffSchema(
      expected,
      live((shape) => {
        const table = shape.tables.things!;
        table.columns.legacy = {
          type: 'text',
          nullable: false,
          default: null,
          identity: null,
          generated: null,
        };
        table.constraints.things_name_key = { type: 'unique', definition: 'UNIQUE (name)' };
        table.indexes.things_name_key = {
          unique: true,
          primary: false,
          method: 'btree',
          columns: ['name'],
          where: null,
          definition: '',
        };
        shape.tables.my_notes = { columns: {}, indexes: {}, constraints: {} };
      }),
    );
    expect(problems.every((problem) => problem.severity === 'warning')).toBe(true);
    expect(problems.map((problem) => problem.code)).toEqual([
      'unexpected_column',
      'unexpected_constraint',
      'unexpected_table',
    ]);
    expect(problems[0]!.message).toContain('Keyway cannot insert rows into this table');
    expect(problems[1]!.message).toContain('can make valid saves fail');
    expect(problems[1]!.fix).toBe('If nothing needs it: ALTER TABLE things DROP CONSTRAINT things_name_key;');
  });

  it("ignores retrieval's HNSW indexes on knowledge_chunks (made at run time), and nothing else by that name", () => {
    const chunks = {
      columns: {},
      indexes: {},
      constraints: {},
    } satisfies SchemaShape['tables'][string];
    const want: ExpectedSchema = {
      migrations: [],
      tables: { knowledge_chunks: { ...chunks, createdBy: '0016_knowledge' } },
    };
    const index = (name: string, method: string) => ({
      unique: false,
      primary: false,
      method,
      columns: ['((embedding)::vector(1536))'],
      where: '(array_length(embedding, 1) = 1536)',
      definition: `CREATE INDEX ${name} ON knowledge_chunks USING ${method} (...)`,
    });
    const have: SchemaShape = {
      tables: {
        knowledge_chunks: {
          ...chunks,
          indexes: {
            knowledge_chunks_embedding_1536_hnsw: index('knowledge_chunks_embedding_1536_hnsw', 'hnsw'),
            knowledge_chunks_embedding_768_hnsw: index('knowledge_chunks_embedding_768_hnsw', 'btree'),
            knowledge_chunks_by_hand: index('knowledge_chunks_by_hand', 'hnsw'),
          },
        },
      },
    };
    expect(diffSchema(want, have).map((problem) => problem.message)).toEqual([
      expect.stringContaining('knowledge_chunks_embedding_768_hnsw'),
      expect.stringContaining('knowledge_chunks_by_hand'),
    ]);
  });
});
