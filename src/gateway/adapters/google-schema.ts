// JSON Schema → Gemini's schema subset. Gemini rejects the whole request for one unknown keyword
// ($schema, additionalProperties, const, $ref …), for `type` arrays, non-string enums, string
// formats other than enum/date-time, empty `properties` and `required` names that are not
// properties. The output is built from a whitelist, so nothing unsupported survives.

/** Gemini's schema for function parameters and structured output: a subset of OpenAPI 3.0. */
export interface GeminiSchema {
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object';
  nullable?: boolean;
  description?: string;
  enum?: string[];
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: GeminiSchema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, GeminiSchema>;
  required?: string[];
  anyOf?: GeminiSchema[];
}

type JsonSchema = Record<string, unknown>;

const STRING_FORMATS = new Set(['enum', 'date-time']);
const NUMBER_FORMATS = new Set(['float', 'double']);
const INTEGER_FORMATS = new Set(['int32', 'int64']);
const GEMINI_TYPES: readonly string[] = ['string', 'number', 'integer', 'boolean', 'array', 'object'];
type GeminiType = NonNullable<GeminiSchema['type']>;

function isGeminiType(value: unknown): value is GeminiType {
  return typeof value === 'string' && GEMINI_TYPES.includes(value);
}

/**
 * Converts a JSON Schema (as OpenAI SDKs, zod and pydantic emit it) to Gemini's subset: local
 * `$ref`s inlined (recursive ones become a bare object), `type: [X, 'null']` and `anyOf` with null
 * become `nullable`, `const` becomes a one-value enum, `allOf` is merged, and every keyword Gemini
 * does not accept is dropped. A node with no inferable type becomes a string.
 */
export function toGeminiSchema(schema: unknown): GeminiSchema {
  const root = isRecord(schema) ? schema : {};
  return convertNode(root, root, []);
}

function convertNode(node: JsonSchema, root: JsonSchema, refs: string[]): GeminiSchema {
  const ref = node['$ref'];
  if (typeof ref === 'string') {
    const { $ref: _ref, ...siblings } = node;
    const target = resolvePointer(root, ref);
    // A recursive type cannot be inlined; an open object keeps the call valid.
    if (target === undefined || refs.includes(ref)) return withMeta({ type: 'object' }, siblings);
    return convertNode({ ...target, ...siblings }, root, [...refs, ref]);
  }
  if (Array.isArray(node['allOf'])) return convertNode(mergeAllOf(node, root), root, refs);

  const variants = node['anyOf'] ?? node['oneOf'];
  if (Array.isArray(variants)) return convertUnion(node, variants.filter(isRecord), root, refs);

  const declared = node['type'];
  if (Array.isArray(declared)) {
    const types = declared.filter((type): type is string => typeof type === 'string' && type !== 'null');
    const nullable = declared.includes('null');
    const { type: _type, ...rest } = node;
    if (types.length <= 1) {
      const converted = convertNode(types[0] ? { ...rest, type: types[0] } : rest, root, refs);
      return nullable ? { ...converted, nullable: true } : converted;
    }
    const { description: _description, ...branch } = rest;
    const union: GeminiSchema = { anyOf: types.map((type) => convertNode({ ...branch, type }, root, refs)) };
    return withMeta(nullable ? { ...union, nullable: true } : union, node);
  }
  return convertTyped(node, root, refs);
}

function convertUnion(
  node: JsonSchema,
  variants: JsonSchema[],
  root: JsonSchema,
  refs: string[],
): GeminiSchema {
  const isNull = (variant: JsonSchema) => variant['type'] === 'null';
  const nullable = variants.some(isNull) || node['nullable'] === true;
  const others = variants.filter((variant) => !isNull(variant));
  const { anyOf: _anyOf, oneOf: _oneOf, ...outer } = node;
  let converted: GeminiSchema;
  const literals = stringLiterals(others);
  if (others.length === 1 && others[0]) {
    converted = convertNode({ ...others[0], ...outer }, root, refs);
  } else if (literals) {
    // z.union of literals: one string enum reads better to the model than an anyOf of constants.
    converted = withMeta({ type: 'string', enum: literals }, outer);
  } else if (others.length === 0) {
    converted = withMeta({ type: 'string' }, outer);
  } else {
    converted = withMeta({ anyOf: others.map((variant) => convertNode(variant, root, refs)) }, outer);
  }
  return nullable ? { ...converted, nullable: true } : converted;
}

function stringLiterals(variants: JsonSchema[]): string[] | undefined {
  if (variants.length < 2) return undefined;
  const values: string[] = [];
  for (const variant of variants) {
    const own = variant['const'] !== undefined ? [variant['const']] : variant['enum'];
    if (!Array.isArray(own) || !own.every((value) => typeof value === 'string')) return undefined;
    values.push(...own);
  }
  return values;
}

function convertTyped(node: JsonSchema, root: JsonSchema, refs: string[]): GeminiSchema {
  let description = typeof node['description'] === 'string' ? node['description'] : undefined;
  let nullable = node['nullable'] === true;
  let values: unknown[] | undefined = Array.isArray(node['enum']) ? node['enum'] : undefined;
  if (node['const'] !== undefined) values = [node['const']];
  if (values?.includes(null)) {
    nullable = true;
    values = values.filter((value) => value !== null);
  }
  let stringValues: string[] | undefined;
  if (values && values.every((value): value is string => typeof value === 'string')) stringValues = values;
  else if (values) {
    // Gemini types every enum member as a string and fails the request on anything else; the
    // allowed values still reach the model through the description.
    const note = `Allowed values: ${values.map((value) => JSON.stringify(value)).join(', ')}.`;
    const before = description?.trimEnd();
    description = before ? `${before}${/[.!?]$/.test(before) ? '' : '.'} ${note}` : note;
  }

  const type = typeOf(node, values);
  const out: GeminiSchema = { type };
  if (nullable) out.nullable = true;
  if (description) out.description = description;
  const format = typeof node['format'] === 'string' ? node['format'] : undefined;
  const number = (key: string): number | undefined => {
    const value = node[key];
    return typeof value === 'number' ? value : undefined;
  };

  if (type === 'string') {
    if (stringValues && stringValues.length > 0) out.enum = stringValues;
    if (format && STRING_FORMATS.has(format)) out.format = format;
    assign(out, 'minLength', number('minLength'));
    assign(out, 'maxLength', number('maxLength'));
  } else if (type === 'number' || type === 'integer') {
    if (format && (type === 'number' ? NUMBER_FORMATS : INTEGER_FORMATS).has(format)) out.format = format;
    assign(out, 'minimum', number('minimum'));
    assign(out, 'maximum', number('maximum'));
  } else if (type === 'array') {
    const items = node['items'];
    const first = Array.isArray(items) ? items.find(isRecord) : items;
    // Gemini requires `items`; an untyped array is offered as an array of strings.
    out.items = isRecord(first) ? convertNode(first, root, refs) : { type: 'string' };
    assign(out, 'minItems', number('minItems'));
    assign(out, 'maxItems', number('maxItems'));
  } else if (type === 'object') {
    const properties = isRecord(node['properties']) ? node['properties'] : {};
    const converted: Record<string, GeminiSchema> = {};
    for (const [key, value] of Object.entries(properties)) {
      converted[key] = convertNode(isRecord(value) ? value : {}, root, refs);
    }
    if (Object.keys(converted).length > 0) out.properties = converted;
    const required = Array.isArray(node['required'])
      ? node['required'].filter((key): key is string => typeof key === 'string' && key in converted)
      : [];
    if (required.length > 0) out.required = required;
  }
  return out;
}

function typeOf(node: JsonSchema, values: unknown[] | undefined): GeminiType {
  const declared = node['type'];
  if (isGeminiType(declared)) return declared;
  if (isRecord(node['properties'])) return 'object';
  if (node['items'] !== undefined) return 'array';
  if (values && values.length > 0) {
    if (values.every((value) => typeof value === 'string')) return 'string';
    if (values.every((value) => Number.isInteger(value))) return 'integer';
    if (values.every((value) => typeof value === 'number')) return 'number';
    if (values.every((value) => typeof value === 'boolean')) return 'boolean';
  }
  return 'string';
}

function mergeAllOf(node: JsonSchema, root: JsonSchema): JsonSchema {
  const { allOf, ...rest } = node;
  const merged: JsonSchema = {};
  const properties: JsonSchema = {};
  const required: unknown[] = [];
  for (const part of [...(Array.isArray(allOf) ? allOf : []), rest]) {
    if (!isRecord(part)) continue;
    const resolved = typeof part['$ref'] === 'string' ? (resolvePointer(root, part['$ref']) ?? {}) : part;
    for (const [key, value] of Object.entries(resolved)) {
      if (key === 'properties' && isRecord(value)) Object.assign(properties, value);
      else if (key === 'required' && Array.isArray(value)) required.push(...value);
      else if (key !== '$ref' && !(key in merged)) merged[key] = value;
    }
  }
  if (Object.keys(properties).length > 0) merged['properties'] = properties;
  if (required.length > 0) merged['required'] = [...new Set(required)];
  return merged;
}

function resolvePointer(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let current: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return isRecord(current) ? current : undefined;
}

function withMeta(schema: GeminiSchema, source: JsonSchema): GeminiSchema {
  const description = source['description'];
  return typeof description === 'string' && description !== '' ? { ...schema, description } : schema;
}

function assign<K extends keyof GeminiSchema>(
  target: GeminiSchema,
  key: K,
  value: GeminiSchema[K] | undefined,
) {
  if (value !== undefined) target[key] = value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
