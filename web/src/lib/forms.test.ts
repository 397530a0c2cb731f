import { describe, expect, it } from 'vitest';
import type { Bot, Provider } from '../api/types.ts';
import { botBody, botToForm, credentialBody, emptyBotForm, settingLabel, validateAccount } from './forms.ts';

const openaiCompatible: Provider = {
  id: 'openai-compatible',
  label: 'OpenAI-compatible',
  wire: 'openai',
  defaultBaseUrl: null,
  secret: 'optional',
  keyFormat: null,
  settings: { properties: { baseUrl: { type: 'string', description: 'The base URL' } } },
};
const openai: Provider = {
  ...openaiCompatible,
  id: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  secret: 'required',
};

describe('validateAccount', () => {
  it('checks the username pattern, the password length and the repeat', () => {
    expect(
      validateAccount({ username: 'admin', password: 'long enough pw', confirm: 'long enough pw' }),
    ).toEqual({});
    expect(
      Object.keys(validateAccount({ username: 'a', password: 'short', confirm: 'other' })).sort(),
    ).toEqual(['confirm', 'password', 'username']);
  });
});

describe('credentialBody', () => {
  it('requires the base URL where the provider has no default, and a key where the provider needs one', () => {
    const missing = credentialBody(
      { name: 'local', provider: 'openai-compatible', secret: '', settings: {}, shared: false },
      openaiCompatible,
    );
    expect(missing.body).toBeNull();
    expect(missing.errors).toEqual({ 'settings.baseUrl': 'Required.' });
    const noKey = credentialBody(
      { name: 'main', provider: 'openai', secret: ' ', settings: {}, shared: false },
      openai,
    );
    expect(noKey.errors.secret).toBeDefined();
  });

  it('rejects names with a slash and URLs that are not http(s)', () => {
    const { errors } = credentialBody(
      {
        name: 'a/b',
        provider: 'openai-compatible',
        secret: 'k',
        settings: { baseUrl: 'ftp://x' },
        shared: false,
      },
      openaiCompatible,
    );
    expect(Object.keys(errors).sort()).toEqual(['name', 'settings.baseUrl']);
  });

  it('builds the body with only what was given', () => {
    expect(
      credentialBody(
        {
          name: 'main',
          provider: 'openai',
          secret: 'sk-1',
          settings: { baseUrl: ' http://127.0.0.1:9/v1 ' },
          shared: true,
        },
        openai,
      ).body,
    ).toEqual({
      name: 'main',
      provider: 'openai',
      secret: 'sk-1',
      settings: { baseUrl: 'http://127.0.0.1:9/v1' },
      shared: true,
    });
    expect(
      credentialBody(
        { name: 'main', provider: 'openai', secret: 'sk-1', settings: {}, shared: false },
        openai,
      ).body,
    ).toEqual({
      name: 'main',
      provider: 'openai',
      secret: 'sk-1',
    });
  });
});

describe('botBody', () => {
  const valid = { ...emptyBotForm, name: 'support', credentialId: 'c1', model: 'gpt-4o-mini' };

  it('needs a name, a credential and a model', () => {
    expect(Object.keys(botBody(emptyBotForm).errors).sort()).toEqual(['credentialId', 'model', 'name']);
  });

  it('validates numbers and regex triggers', () => {
    const { errors } = botBody({
      ...valid,
      temperature: '3',
      maxTokens: '1.5',
      triggerType: 'keyword',
      triggerOperator: 'regex',
      triggerValue: '(unclosed',
    });
    expect(Object.keys(errors).sort()).toEqual(['maxTokens', 'temperature', 'triggerValue']);
  });

  it('needs the whole Evolution channel once any part is given, but keeps a saved key when editing', () => {
    const partial = { ...valid, evolutionServerUrl: 'http://evo:8080', evolutionInstance: 'sales-1' };
    expect(Object.keys(botBody(partial).errors)).toEqual(['evolutionApiKey']);
    const edited = botBody(partial, true).body!;
    expect(edited.channels?.evolution).toEqual({ serverUrl: 'http://evo:8080', instance: 'sales-1' });
  });

  it('builds the documented shape', () => {
    const { body } = botBody({
      ...valid,
      temperature: '0.7',
      maxTokens: '500',
      triggerType: 'keyword',
      triggerOperator: 'startsWith',
      triggerValue: 'hi',
      keywordFinish: '#stop',
      expireMinutes: '30',
      debounceSeconds: '3',
      ignore: '*@g.us\n 5511999990000@s.whatsapp.net ,',
      splitEnabled: true,
      callbackUrl: 'https://example.com/cb',
      seedMessages: [{ role: 'user', content: 'hello' }],
    });
    expect(body).toMatchObject({
      name: 'support',
      credentialId: 'c1',
      model: 'gpt-4o-mini',
      params: { temperature: 0.7, maxTokens: 500 },
      trigger: { type: 'keyword', operator: 'startsWith', value: 'hi', caseSensitive: false },
      keywordFinish: '#stop',
      expireMinutes: 30,
      debounceSeconds: 3,
      ignore: ['*@g.us', '5511999990000@s.whatsapp.net'],
      takeover: { pauseOnFromMe: true, listenFromMe: false },
      split: { enabled: true, delayMs: 800 },
      channels: { webhook: { callbackUrl: 'https://example.com/cb' }, evolution: null },
      seedMessages: [{ role: 'user', content: 'hello' }],
    });
  });

  it('round-trips a saved bot through the form', () => {
    const { body } = botBody(valid);
    // The server's answer: the body (defaults filled in) plus what it adds.
    const saved = {
      ...body!,
      id: 'b1',
      hooks: { webhook: '', evolution: '' },
      version: 1,
      createdAt: '',
      updatedAt: '',
    } as Bot;
    const again = botBody(botToForm(saved), true).body;
    expect(again).toEqual(body);
  });
});

describe('settingLabel', () => {
  it('turns setting names into labels', () => {
    expect(settingLabel('baseUrl')).toBe('Base URL');
    expect(settingLabel('apiVersion')).toBe('API version');
    expect(settingLabel('deployment')).toBe('Deployment');
    expect(settingLabel('organization_id')).toBe('Organization ID');
  });
});
