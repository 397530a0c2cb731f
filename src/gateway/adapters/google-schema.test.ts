import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toGeminiSchema } from './google-schema.ts';
import type { GeminiSchema } from './google-schema.ts';

function jsonFixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/google/${name}`, import.meta.url), 'utf8'));
}

describe('toGeminiSchema', () => {
  const SUPPORTED = new Set([
    'type',
    'nullable',
    'description',
    'enum',
    'format',
    'minLength',
    'maxLength',
    'minimum',
    'maximum',
    'items',
    'minItems',
    'maxItems',
    'properties',
    'required',
    'anyOf',
  ]);

  /** Every rule Gemini enforces on a schema node, checked over the whole tree. */
  function expectGeminiValid(schema: GeminiSchema, path = '$'): void {
    for (const key of Object.keys(schema)) expect(SUPPORTED, `${path}.${key}`).toContain(key);
    expect(schema.type !== undefined || schema.anyOf !== undefined, `${path} has a type`).toBe(true);
    if (schema.enum) {
      expect(schema.type, `${path}: enum only on strings`).toBe('string');
      for (const value of schema.enum) expect(typeof value).toBe('string');
    }
    if (schema.format) {
      const allowed = {
        string: ['enum', 'date-time'],
        number: ['float', 'double'],
        integer: ['int32', 'int64'],
      };
      expect(allowed[schema.type as keyof typeof allowed], `${path}.format`).toContain(schema.format);
    }
    if (schema.properties) {
      expect(schema.type).toBe('object');
      expect(Object.keys(schema.properties).length).toBeGreaterThan(0);
    }
    for (const name of schema.required ?? []) expect(Object.keys(schema.properties ?? {})).toContain(name);
    if (schema.type === 'array') expect(schema.items, `${path}.items`).toBeDefined();
    for (const [name, child] of Object.entries(schema.properties ?? {}))
      expectGeminiValid(child, `${path}.${name}`);
    if (schema.items) expectGeminiValid(schema.items, `${path}[]`);
    schema.anyOf?.forEach((branch, index) => expectGeminiValid(branch, `${path}|${index}`));
  }

  const toolSchema = z
    .object({ function: z.object({ parameters: z.record(z.string(), z.unknown()) }) })
    .parse(jsonFixture('openai-tool-schema.json')).function.parameters;

  it('converts a strict OpenAI tool schema to Gemini’s subset', () => {
    const reminder: GeminiSchema = {
      type: 'object',
      nullable: true,
      description: 'Optional reminder',
      properties: {
        minutes_before: { type: 'integer', format: 'int32', minimum: 0 },
        method: { type: 'string', nullable: true, enum: ['email', 'popup'] },
      },
      required: ['minutes_before', 'method'],
    };
    const attendee: GeminiSchema = {
      type: 'object',
      properties: {
        email: { type: 'string' },
        optional: { type: 'boolean' },
        role: { type: 'string', enum: ['required', 'optional', 'chair'] },
      },
      required: ['email', 'optional', 'role'],
    };

    expect(toGeminiSchema(toolSchema)).toEqual({
      type: 'object',
      properties: {
        title: { type: 'string', description: 'Short title', minLength: 1, maxLength: 120 },
        start: { type: 'string', format: 'date-time' },
        location: { type: 'string', nullable: true, description: 'Where it happens' },
        organizer_email: { type: 'string' },
        priority: { type: 'string', enum: ['low', 'normal', 'high'] },
        duration_minutes: { type: 'integer', description: 'Length. Allowed values: 15, 30, 60.' },
        kind: { type: 'string', enum: ['meeting'] },
        reminder,
        attendees: { type: 'array', minItems: 1, maxItems: 50, items: attendee },
        tags: { type: 'array', items: { type: 'string' } },
        recurrence: {
          nullable: true,
          anyOf: [
            { type: 'object', properties: { every_days: { type: 'integer' } }, required: ['every_days'] },
            {
              type: 'object',
              properties: {
                weekdays: {
                  type: 'array',
                  items: { type: 'string', enum: ['mon', 'tue', 'wed', 'thu', 'fri'] },
                },
              },
              required: ['weekdays'],
            },
          ],
        },
        metadata: { type: 'object' },
        score: { type: 'number', minimum: 0, maximum: 1 },
      },
      required: [
        'title',
        'start',
        'location',
        'organizer_email',
        'priority',
        'duration_minutes',
        'kind',
        'reminder',
        'attendees',
        'tags',
        'recurrence',
        'metadata',
        'score',
      ],
    });
  });

  it('leaves nothing Gemini rejects in schemas zod generates, recursive ones included', () => {
    const person = z.object({ name: z.string(), email: z.email() });
    const folder = z.object({
      label: z.string(),
      get children() {
        return z.array(folder);
      },
    });
    const schema = z.object({
      owner: person,
      reviewer: person.nullable(),
      status: z.union([z.literal('draft'), z.literal('final')]),
      mode: z.enum(['fast', 'careful']),
      limit: z.number().int().positive().optional(),
      due: z.iso.datetime(),
      labels: z.record(z.string(), z.string()),
      matrix: z.array(z.array(z.number())),
      value: z.union([z.string(), z.number()]),
      tree: folder,
      site: z.url().nullable(),
    });
    const jsonSchema = z.toJSONSchema(schema, { reused: 'ref' });
    expect(JSON.stringify(jsonSchema)).toContain('$ref');

    const converted = toGeminiSchema(jsonSchema);
    expectGeminiValid(converted);
    expectGeminiValid(toGeminiSchema(toolSchema));
    const properties = converted.properties ?? {};
    expect(properties['reviewer']).toEqual({
      type: 'object',
      nullable: true,
      properties: { name: { type: 'string' }, email: { type: 'string' } },
      required: ['name', 'email'],
    });
    expect(properties['status']).toEqual({ type: 'string', enum: ['draft', 'final'] });
    expect(properties['value']).toEqual({ anyOf: [{ type: 'string' }, { type: 'number' }] });
    expect(properties['matrix']).toEqual({
      type: 'array',
      items: { type: 'array', items: { type: 'number' } },
    });
    // The recursion is cut one level down, where the schema refers to itself.
    expect(properties['tree']?.properties?.['children']).toEqual({
      type: 'array',
      items: { type: 'object' },
    });
    expect(converted.required).not.toContain('limit');
  });

  it('merges allOf and splits multi-type unions into anyOf', () => {
    expect(
      toGeminiSchema({
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { properties: { b: { type: ['integer', 'string', 'null'], description: 'B' } }, required: ['b'] },
        ],
      }),
    ).toEqual({
      type: 'object',
      properties: {
        a: { type: 'string' },
        b: { anyOf: [{ type: 'integer' }, { type: 'string' }], nullable: true, description: 'B' },
      },
      required: ['a', 'b'],
    });
  });
});
