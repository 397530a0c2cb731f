import { lookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { Agent } from 'undici';
import { addressRefusal, checkUpstreamUrl, isAddressAllowed } from './upstream-url-guard.ts';
import type { UpstreamPolicy } from './upstream-url-guard.ts';

export interface UpstreamRequest {
  url: string;
  method: 'GET' | 'POST' | 'DELETE';
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** A deadline for the whole exchange up to the response headers and body being read. */
  timeoutMs?: number;
  /** Which addresses this call may reach; the client's default (the strictest it was given) otherwise. */
  policy?: UpstreamPolicy;
}

/** A response whose body must be consumed once, with `text()` or `json()`, to free the connection. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** A response whose body is read as it arrives (the gateway's streaming path). */
export interface UpstreamStreamingResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Buffer> & { destroy(error?: Error): void };
}

export interface UpstreamStreamingRequest extends Omit<UpstreamRequest, 'timeoutMs'> {
  /** Longest wait for the response headers (time to first byte). */
  headersTimeoutMs: number;
  /** Longest silence between two pieces of the body (idle timeout). */
  bodyTimeoutMs: number;
}

/** The port every call to a provider goes through; tests may substitute their own. */
export interface UpstreamClient {
  request(options: UpstreamRequest): Promise<UpstreamResponse>;
  /** Sends a request and hands back the body unread, to be streamed on. */
  open(options: UpstreamStreamingRequest): Promise<UpstreamStreamingResponse>;
}

/** The upstream's address is one the policy forbids: a request-forgery attempt or a misconfiguration. */
export class UpstreamBlockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamBlockedError';
  }
}

/**
 * An `UpstreamClient` over keep-alive undici Agents, one per policy in use. Every address is checked
 * where the socket is opened (the DNS lookup the connection really uses), so a name that resolves to a
 * forbidden address — or starts to, after a DNS rebinding — is refused; IP literals skip the lookup and
 * are checked first. A request without a policy gets `defaultPolicy`.
 */
export function createUpstreamClient(
  defaultPolicy: UpstreamPolicy,
  options: { connectTimeoutMs?: number } = {},
): UpstreamClient & { preload(): Promise<void>; close(): Promise<void> } {
  // undici is ~1.2 MB of JavaScript: imported at the first call (or by preload() once the server is
  // ready), not while the server starts.
  let undici: Promise<typeof import('undici')> | undefined;
  const loadUndici = () =>
    (undici ??= import('undici').then(
      // In the bundle (dist/), importing a CommonJS package gives its exports as `default` only.
      (module) => ('request' in module ? module : (module as { default: typeof module }).default),
      (error: unknown) => {
        undici = undefined;
        throw error;
      },
    ));
  const guards = new Map<string, PolicyGuard>();
  const guardFor = (
    Agent: typeof import('undici').Agent,
    policy: UpstreamPolicy = defaultPolicy,
  ): PolicyGuard => {
    const key = `${policy.allowLoopback}:${policy.allowPrivate}`;
    let guard = guards.get(key);
    if (!guard) {
      guard = createPolicyGuard(Agent, policy, options.connectTimeoutMs ?? 10_000);
      guards.set(key, guard);
    }
    return guard;
  };

  return {
    async request(options) {
      const { Agent, request } = await loadUndici();
      const guard = guardFor(Agent, options.policy);
      const verdict = guard.check(options.url);
      if (!verdict.ok) throw new UpstreamBlockedError(verdict.message);
      const signals = [options.signal, timeoutSignal(options.timeoutMs)].filter((signal) => !!signal);
      const response = await request(options.url, {
        method: options.method,
        headers: options.headers,
        body: options.body ?? null,
        signal: signals.length > 0 ? AbortSignal.any(signals) : null,
        dispatcher: guard.agent,
      });
      return {
        status: response.statusCode,
        headers: response.headers,
        text: () => response.body.text(),
        json: () => response.body.json(),
      };
    },
    async open(options) {
      const { Agent, request } = await loadUndici();
      const guard = guardFor(Agent, options.policy);
      const verdict = guard.check(options.url);
      if (!verdict.ok) throw new UpstreamBlockedError(verdict.message);
      const response = await request(options.url, {
        method: options.method,
        headers: options.headers,
        body: options.body ?? null,
        signal: options.signal ?? null,
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.bodyTimeoutMs,
        dispatcher: guard.agent,
      });
      return { status: response.statusCode, headers: response.headers, body: response.body };
    },
    preload: async () => {
      await loadUndici();
    },
    close: async () => {
      await Promise.all([...guards.values()].map((guard) => guard.agent.close()));
    },
  };
}

interface PolicyGuard {
  agent: Agent;
  /** The URL's verdict under the policy; the gateway calls the same few URLs, so verdicts are kept. */
  check(url: string): ReturnType<typeof checkUpstreamUrl>;
}

function createPolicyGuard(
  Agent: typeof import('undici').Agent,
  policy: UpstreamPolicy,
  connectTimeoutMs: number,
): PolicyGuard {
  const guardedLookup: LookupFunction = (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const allowed = addresses.filter((entry) => isAddressAllowed(entry.address, policy));
      const first = allowed[0];
      if (first === undefined) {
        const reasons = new Set(addresses.map((entry) => addressRefusal(entry.address, policy)));
        const message = `${hostname} resolves only to addresses Keyway may not call: ${[...reasons].join(' ')}`;
        return callback(new UpstreamBlockedError(message), '');
      }
      if (options.all) return callback(null, allowed);
      callback(null, first.address, first.family);
    });
  };
  const agent = new Agent({
    connect: { lookup: guardedLookup, timeout: connectTimeoutMs },
    keepAliveTimeout: 30_000,
    headersTimeout: 30_000,
    bodyTimeout: 60_000,
  });
  const verdicts = new Map<string, ReturnType<typeof checkUpstreamUrl>>();
  return {
    agent,
    check(url) {
      let verdict = verdicts.get(url);
      if (!verdict) {
        verdict = checkUpstreamUrl(url, policy);
        if (verdicts.size >= 1_000) verdicts.clear();
        verdicts.set(url, verdict);
      }
      return verdict;
    },
  };
}

function timeoutSignal(timeoutMs: number | undefined): AbortSignal | undefined {
  return timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
}
