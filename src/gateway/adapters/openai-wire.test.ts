import { describe, expect, it } from 'vitest';
import { createDefaultRegistry, effectiveBaseUrl } from '../../providers/registry.ts';
import { buildOpenAiWireCall, translateOpenAiWireError, usageIn } from './openai-wire.ts';

const providers = createDefaultRegistry();
const request = { model: 'work/gpt-4o', messages: [{ role: 'user', content: 'hi' }], vendor_field: { a: 1 } };

function call(
  providerId: string,
  settings: Record<string, unknown>,
  model = 'gpt-4o',
  secret: string | null = 'key-123',
) {
  const provider = providers.get(providerId)!;
  return buildOpenAiWireCall(
    { request, model, provider, secret, settings, baseUrl: effectiveBaseUrl(provider, settings) },
    request,
  );
}

describe('buildOpenAiWireCall', () => {
  it('sends OpenAI the body unchanged but for the model, with the key as Bearer and the organization header', () => {
    const built = call('openai', { organization: 'org-1' });
    expect(built.url).toBe('https://api.openai.com/v1/chat/completions');
    expect(built.headers).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer key-123',
      'openai-organization': 'org-1',
    });
    expect(JSON.parse(built.body)).toEqual({ ...request, model: 'gpt-4o' });
  });

  it('addresses an Azure deployment (defaulting to the model name) with api-version and the api-key header', () => {
    const withDeployment = call('azure-openai', {
      endpoint: 'https://res.openai.azure.com',
      deployment: 'prod-4o',
      apiVersion: '2024-10-21',
    });
    expect(withDeployment.url).toBe(
      'https://res.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21',
    );
    expect(withDeployment.headers['api-key']).toBe('key-123');
    expect(withDeployment.headers.authorization).toBeUndefined();
    const byModel = call(
      'azure-openai',
      { endpoint: 'https://res.openai.azure.com', apiVersion: '2024-10-21' },
      'gpt 4o',
    );
    expect(byModel.url).toBe(
      'https://res.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2024-10-21',
    );
  });

  it("reaches Ollama's OpenAI-compatible API under /v1 and sends no Authorization without a key", () => {
    const built = call('ollama', {}, 'llama3.2', null);
    expect(built.url).toBe('http://127.0.0.1:11434/v1/chat/completions');
    expect(built.headers.authorization).toBeUndefined();
  });

  it('uses an openai-compatible base URL as given', () => {
    expect(call('openai-compatible', { baseUrl: 'http://127.0.0.1:8000/v1' }).url).toBe(
      'http://127.0.0.1:8000/v1/chat/completions',
    );
  });
});

describe('translateOpenAiWireError and usageIn', () => {
  it("keeps the provider's message, type and code, and copes with bodies that are not OpenAI's", () => {
    expect(
      translateOpenAiWireError(
        400,
        JSON.stringify({
          error: { message: 'Bad temperature', type: 'invalid_request_error', code: 'invalid_value' },
        }),
      ),
    ).toEqual({
      message: 'Bad temperature',
      type: 'invalid_request_error',
      code: 'invalid_value',
    });
    // Mistral's (and older vLLM's) envelope: the same fields at the top level, tagged `object: "error"`.
    expect(
      translateOpenAiWireError(
        422,
        JSON.stringify({
          object: 'error',
          message: 'Invalid model',
          type: 'invalid_model',
          param: null,
          code: '1500',
        }),
      ),
    ).toEqual({ message: 'Invalid model', type: 'invalid_model', code: '1500' });
    // A body that is not an error envelope is described, never quoted (it may be another service's page).
    expect(translateOpenAiWireError(502, '<html>bad gateway</html>').message).toBe(
      "The provider answered HTTP 502 with a body that is not an OpenAI-style error (24 bytes of HTML); if it persists, check the credential's base URL.",
    );
    // Nor JSON of another shape: `{error: "…"}`, `{message}` and `{detail}` are what any web service sends.
    for (const body of [
      { error: 'model crashed' },
      { message: 'model crashed' },
      { detail: 'model crashed' },
    ]) {
      expect(translateOpenAiWireError(500, JSON.stringify(body))).toMatchObject({
        message: expect.not.stringContaining('model crashed'),
        type: 'api_error',
        code: null,
      });
    }
  });

  it('finds usage in a completion or a final chunk, and nothing in a chunk whose usage is null', () => {
    const usage = {
      prompt_tokens: 3,
      completion_tokens: 2,
      total_tokens: 5,
      prompt_tokens_details: { cached_tokens: 1 },
    };
    expect(
      usageIn(JSON.stringify({ id: 'x', choices: [{ message: { content: 'a "usage": {' } }], usage })),
    ).toEqual(usage);
    expect(usageIn(JSON.stringify({ id: 'x', choices: [], usage }))).toEqual(usage);
    expect(
      usageIn(JSON.stringify({ id: 'x', choices: [{ delta: { content: 'hi' } }], usage: null })),
    ).toBeNull();
    expect(usageIn('{"id":"x"}')).toBeNull();
  });
});
