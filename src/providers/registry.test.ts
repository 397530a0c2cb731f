import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { ProviderDefinition } from './provider.ts';
import {
  ProviderRegistry,
  checkKeyFormat,
  createDefaultRegistry,
  effectiveBaseUrl,
  parseSettings,
} from './registry.ts';

const registry = createDefaultRegistry();

function provider(id: string): ProviderDefinition {
  const found = registry.get(id);
  if (found === undefined) throw new Error(`provider ${id} is missing`);
  return found;
}

describe('createDefaultRegistry', () => {
  it('holds the fourteen providers Keyway ships with, in order', () => {
    expect(registry.list().map((def) => def.id)).toEqual([
      'openai',
      'azure-openai',
      'anthropic',
      'google',
      'mistral',
      'groq',
      'deepseek',
      'xai',
      'openrouter',
      'perplexity',
      'together',
      'fireworks',
      'ollama',
      'openai-compatible',
    ]);
  });

  it.each([
    ['openai', 'openai', 'https://api.openai.com/v1'],
    ['azure-openai', 'azure-openai', undefined],
    ['anthropic', 'anthropic', 'https://api.anthropic.com'],
    ['google', 'google', 'https://generativelanguage.googleapis.com'],
    ['mistral', 'openai', 'https://api.mistral.ai/v1'],
    ['groq', 'openai', 'https://api.groq.com/openai/v1'],
    ['deepseek', 'openai', 'https://api.deepseek.com'],
    ['xai', 'openai', 'https://api.x.ai/v1'],
    ['openrouter', 'openai', 'https://openrouter.ai/api/v1'],
    ['perplexity', 'openai', 'https://api.perplexity.ai'],
    ['together', 'openai', 'https://api.together.xyz/v1'],
    ['fireworks', 'openai', 'https://api.fireworks.ai/inference/v1'],
    ['ollama', 'ollama', 'http://127.0.0.1:11434'],
    ['openai-compatible', 'openai', undefined],
  ])('%s speaks the %s wire format at %s', (id, wire, defaultBaseUrl) => {
    expect(provider(id)).toMatchObject({ wire });
    expect(provider(id).defaultBaseUrl).toBe(defaultBaseUrl);
  });

  it('needs no key only for Ollama and OpenAI-compatible servers', () => {
    const optional = registry
      .list()
      .filter((def) => def.secret === 'optional')
      .map((def) => def.id);
    expect(optional).toEqual(['ollama', 'openai-compatible']);
  });
});

describe('ProviderRegistry', () => {
  it('refuses a second provider with the same id', () => {
    const fresh = new ProviderRegistry();
    const def: ProviderDefinition = {
      id: 'acme',
      label: 'Acme',
      wire: 'openai',
      defaultBaseUrl: 'https://api.acme.test/v1',
      settings: z.strictObject({}),
      secret: 'required',
    };
    fresh.register(def);
    expect(() => fresh.register({ ...def, label: 'Acme again' })).toThrow('"acme" is already registered');
    expect(fresh.get('acme')?.label).toBe('Acme');
    expect(fresh.get('nope')).toBeUndefined();
  });
});

describe('parseSettings', () => {
  it('accepts no settings at all for a provider with a default address', () => {
    expect(parseSettings(provider('anthropic'), undefined)).toEqual({ ok: true, settings: {} });
    expect(effectiveBaseUrl(provider('anthropic'), {})).toBe('https://api.anthropic.com');
  });

  it('takes a base URL override and the OpenAI organization', () => {
    const result = parseSettings(provider('openai'), {
      baseUrl: 'https://proxy.example.com/v1/',
      organization: 'org-123',
    });
    expect(result).toEqual({
      ok: true,
      settings: { baseUrl: 'https://proxy.example.com/v1/', organization: 'org-123' },
    });
    if (result.ok)
      expect(effectiveBaseUrl(provider('openai'), result.settings)).toBe('https://proxy.example.com/v1');
  });

  it('requires a base URL for an OpenAI-compatible server', () => {
    expect(parseSettings(provider('openai-compatible'), {})).toEqual({
      ok: false,
      issues: [{ path: 'baseUrl', message: 'The base URL is required.' }],
    });
    const result = parseSettings(provider('openai-compatible'), { baseUrl: 'http://vllm.internal:8000/v1' });
    expect(result.ok).toBe(true);
  });

  it('requires a base URL for any provider without a default, whatever its schema says', () => {
    const lenient: ProviderDefinition = {
      id: 'lenient',
      label: 'Lenient',
      wire: 'openai',
      settings: z.strictObject({ baseUrl: z.string().optional() }),
      secret: 'optional',
    };
    expect(parseSettings(lenient, {})).toEqual({
      ok: false,
      issues: [{ path: 'baseUrl', message: 'Lenient has no default address: a base URL is required.' }],
    });
  });

  it('requires an Azure endpoint and defaults the API version', () => {
    const azure = provider('azure-openai');
    expect(parseSettings(azure, { deployment: 'gpt-4o' })).toEqual({
      ok: false,
      issues: [
        { path: 'endpoint', message: 'The endpoint (https://RESOURCE.openai.azure.com) is required.' },
      ],
    });
    const result = parseSettings(azure, { endpoint: 'https://myres.openai.azure.com', deployment: 'gpt-4o' });
    expect(result).toEqual({
      ok: true,
      settings: {
        endpoint: 'https://myres.openai.azure.com',
        deployment: 'gpt-4o',
        apiVersion: '2024-10-21',
      },
    });
    if (result.ok) expect(effectiveBaseUrl(azure, result.settings)).toBe('https://myres.openai.azure.com');
  });

  it('rejects fields the provider does not have, naming each', () => {
    expect(
      parseSettings(provider('anthropic'), { baseUrl: 'https://a.example', organisation: 'x', foo: 1 }),
    ).toEqual({
      ok: false,
      issues: [
        { path: 'organisation', message: 'Anthropic has no setting "organisation".' },
        { path: 'foo', message: 'Anthropic has no setting "foo".' },
      ],
    });
  });

  it.each([
    ['https://user:pass@proxy.example.com/v1', 'must not contain a user name or password'],
    ['https://token@proxy.example.com/v1', 'must not contain a user name or password'],
    ['ftp://proxy.example.com', 'must start with http:// or https://'],
    ['file:///etc/passwd', 'must start with http:// or https://'],
    ['not a url', 'must be a URL'],
    ['https://proxy.example.com/v1?key=abc', 'must not contain a query string'],
  ])('rejects the base URL %s', (baseUrl, problem) => {
    const result = parseSettings(provider('openai'), { baseUrl });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues).toHaveLength(1);
      expect(result.issues[0]?.path).toBe('baseUrl');
      expect(result.issues[0]?.message).toContain(problem);
    }
  });

  it('says so when settings are not an object', () => {
    expect(parseSettings(provider('openai'), 'https://api.openai.com')).toEqual({
      ok: false,
      issues: [{ path: '', message: 'Settings must be an object.' }],
    });
  });
});

describe('checkKeyFormat', () => {
  it.each([
    [
      'anthropic',
      'sk-proj-abc',
      'This does not look like an Anthropic key (they start with sk-ant-); saved anyway.',
    ],
    ['openai', 'AIzaSyFake', 'This does not look like an OpenAI key (they start with sk-); saved anyway.'],
    [
      'google',
      'sk-ant-abc',
      'This does not look like a Google Gemini key (they start with AIza); saved anyway.',
    ],
    ['groq', 'sk-abc', 'This does not look like a Groq key (they start with gsk_); saved anyway.'],
    ['xai', 'sk-abc', 'This does not look like an xAI key (they start with xai-); saved anyway.'],
    [
      'openrouter',
      'sk-abc',
      'This does not look like an OpenRouter key (they start with sk-or-); saved anyway.',
    ],
    [
      'perplexity',
      'sk-abc',
      'This does not look like a Perplexity key (they start with pplx-); saved anyway.',
    ],
    [
      'fireworks',
      'fw-abc',
      'This does not look like a Fireworks AI key (they start with fw_); saved anyway.',
    ],
  ])('warns about a %s key that looks wrong', (id, secret, warning) => {
    expect(checkKeyFormat(provider(id), secret)).toBe(warning);
  });

  it.each([
    ['anthropic', 'sk-ant-api03-abc'],
    ['openai', 'sk-proj-abc'],
    ['google', 'AIzaSyFake'],
    ['groq', 'gsk_abc'],
    ['deepseek', 'sk-abc'],
    ['xai', 'xai-abc'],
    ['openrouter', 'sk-or-v1-abc'],
    ['perplexity', 'pplx-abc'],
    ['fireworks', 'fw_abc'],
    ['mistral', 'anything-at-all'],
    ['together', 'anything-at-all'],
    ['openai-compatible', 'anything-at-all'],
  ])('says nothing about a %s key that looks right (or has no known format)', (id, secret) => {
    expect(checkKeyFormat(provider(id), secret)).toBeNull();
  });
});
