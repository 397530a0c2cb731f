import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Principal } from '../auth/principal.ts';
import { KeywayError } from '../errors.ts';
import type { AppEnv } from './app-env.ts';
import { findJsonProblem } from './json-shape.ts';
import { jsonProblemError, readJson } from './read-json.ts';

/** One `/api` operation: how it is called, who may call it, and the schemas that validate it. */
export interface ApiOperation<Body extends z.ZodType = z.ZodType, Query extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Hono syntax: `/api/credentials/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** `public`: anyone; `user`: any signed-in user or token; `admin`: admins only. */
  auth: 'public' | 'user' | 'admin';
  body?: Body;
  query?: Query;
  response?: z.ZodType;
  /** `text/event-stream`: `response` describes one event (each sent as an SSE `data:` line of JSON). */
  responseType?: 'application/json' | 'text/event-stream';
  status?: 200 | 201 | 204;
}

export interface HandlerInput<Body, Query, Auth> {
  c: Context<AppEnv>;
  body: Body;
  query: Query;
  principal: Auth;
}

type Inferred<S> = S extends z.ZodType ? z.infer<S> : undefined;

/**
 * Registers operations on the app and remembers them for the OpenAPI document, so the schemas that
 * validate requests are the ones that document them.
 */
export class ApiRegistry {
  readonly #operations: ApiOperation[] = [];

  add<B extends z.ZodType, Q extends z.ZodType, O extends ApiOperation<B, Q>>(
    app: Hono<AppEnv>,
    operation: O,
    handler: (
      input: HandlerInput<
        Inferred<O['body']>,
        Inferred<O['query']>,
        O['auth'] extends 'public' ? Principal | null : Principal
      >,
    ) => Promise<Response> | Response,
  ): void {
    this.#operations.push(operation);
    app[operation.method](operation.path, async (c) => {
      const principal = c.get('principal') ?? null;
      if (operation.auth !== 'public' && !principal)
        throw new KeywayError(
          'unauthenticated',
          'Sign in, or send an API token as `Authorization: Bearer kw_…`.',
        );
      if (operation.auth === 'admin' && principal?.role !== 'admin')
        throw new KeywayError('forbidden', 'Only an admin may do this.');
      const body = operation.body ? parseWith(operation.body, await readJson(c), 'body') : undefined;
      const query = operation.query
        ? parseWith(operation.query, readQuery(c.req.query()), 'query')
        : undefined;
      return handler({ c, body, query, principal } as never);
    });
  }

  /** OpenAPI 3.1, generated from the registered operations' zod schemas. */
  document(version: string): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const operation of this.#operations) {
      const path = operation.path.replace(/:([A-Za-z]+)/g, '{$1}');
      const parameters = [...operation.path.matchAll(/:([A-Za-z]+)/g)].map((match) => ({
        name: match[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      if (operation.query) {
        const schema = jsonSchema(operation.query) as {
          properties?: Record<string, unknown>;
          required?: string[];
        };
        for (const [name, property] of Object.entries(schema.properties ?? {})) {
          parameters.push({
            name,
            in: 'query',
            required: schema.required?.includes(name) ?? false,
            schema: property as never,
          });
        }
      }
      const status = String(operation.status ?? 200);
      (paths[path] ??= {})[operation.method] = {
        summary: operation.summary,
        tags: [operation.tag],
        ...(operation.auth === 'public' ? { security: [] } : {}),
        ...(parameters.length ? { parameters } : {}),
        ...(operation.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: jsonSchema(operation.body) } },
              },
            }
          : {}),
        responses: {
          [status]:
            status === '204' || !operation.response
              ? { description: 'Done' }
              : {
                  description: 'OK',
                  content: {
                    [operation.responseType ?? 'application/json']: {
                      schema: jsonSchema(operation.response),
                    },
                  },
                },
          default: {
            description: 'Error',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        },
      };
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Keyway API', version },
      servers: [{ url: '/' }],
      security: [{ bearer: [] }, { session: [] }],
      paths,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API token, `kw_…`.' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'kw_session',
            description: 'The web session; writes also need the `x-csrf-token` header.',
          },
        },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: {
                  code: { type: 'string' },
                  message: { type: 'string' },
                  details: { type: 'object' },
                  requestId: { type: 'string' },
                },
              },
            },
          },
        },
      },
    };
  }
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
}

/** The query string's values, refused with 400 `invalid_text` if one holds a NUL character. */
function readQuery(query: Record<string, string>): Record<string, string> {
  const problem = findJsonProblem(query, { rejectNul: true });
  if (problem) throw jsonProblemError(problem);
  return query;
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  const first = issues[0]!;
  throw new KeywayError(
    'validation_failed',
    `Invalid ${where}: ${first.path ? `${first.path}: ` : ''}${first.message}`,
    { details: { issues } },
  );
}
