import { describe, expect, it } from 'vitest';
import type { Grant } from '../api/sharing-types.ts';
import {
  emptyGrantForm,
  grantBody,
  grantMeters,
  grantToForm,
  isGrantExpired,
  parseModelPatterns,
  subjectLabel,
} from './grants.ts';
import { emptyLimitsForm } from './limits.ts';

const now = new Date('2026-12-15T12:00:00Z');
const grant: Grant = {
  id: 'g1',
  credentialId: 'c1',
  credentialName: 'team-key',
  subject: { type: 'team', id: 't1', name: 'Physics 101' },
  models: ['gpt-4o*', '*-mini'],
  limits: { usd: { amount: 20, period: 'month' } },
  expiresAt: '2027-01-31T23:59:59.999Z',
  spent: { usd: 4.5, tokens: 1200 },
  createdAt: '2026-12-01T00:00:00Z',
  updatedAt: '2026-12-01T00:00:00Z',
};

describe('grants', () => {
  it('names the subject', () => {
    expect(subjectLabel({ type: 'everyone' })).toBe('Everyone');
    expect(subjectLabel(grant.subject)).toBe('team Physics 101');
    expect(subjectLabel({ type: 'token', id: 'tok_1' })).toBe('token tok_1');
  });

  it('splits model patterns on commas, spaces and lines, each once', () => {
    expect(parseModelPatterns(' gpt-4o*, *-mini\nllama3.2 gpt-4o* ,')).toEqual([
      'gpt-4o*',
      '*-mini',
      'llama3.2',
    ]);
    expect(parseModelPatterns('  ')).toEqual([]);
  });

  it('builds a POST body with only what was filled in', () => {
    const { errors, body } = grantBody(
      {
        ...emptyGrantForm,
        subjectType: 'team',
        subjectId: 't1',
        models: 'gpt-4o*',
        expiresOn: '2027-01-31',
        limits: { ...emptyLimitsForm, usdAmount: '20' },
      },
      { editing: false, now },
    );
    expect(errors).toEqual({});
    expect(body).toEqual({
      subject: { type: 'team', id: 't1' },
      models: ['gpt-4o*'],
      limits: { usd: { amount: 20, period: 'month' } },
      expiresAt: '2027-01-31T23:59:59.999Z',
    });
    expect(grantBody({ ...emptyGrantForm, subjectType: 'everyone' }, { editing: false, now }).body).toEqual({
      subject: { type: 'everyone' },
    });
  });

  it('refuses a missing subject, a bad pattern, a past expiry and a bad limit, naming each field', () => {
    const { errors, body } = grantBody(
      {
        ...emptyGrantForm,
        subjectType: 'user',
        models: 'gpt-4o',
        expiresOn: '2026-12-14',
        limits: { ...emptyLimitsForm, tokensAmount: '-3' },
      },
      { editing: false, now },
    );
    expect(body).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(['expiresOn', 'limits.tokens', 'subject']);
  });

  it('builds a PATCH body where emptied fields clear (null), and reads a grant back into the form', () => {
    const form = grantToForm(grant);
    expect(form).toMatchObject({
      subjectType: 'team',
      subjectId: 't1',
      models: 'gpt-4o*, *-mini',
      expiresOn: '2027-01-31',
    });
    expect(grantBody(form, { editing: true, now }).body).toEqual({
      models: ['gpt-4o*', '*-mini'],
      limits: { usd: { amount: 20, period: 'month' } },
      expiresAt: '2027-01-31T23:59:59.999Z',
    });
    expect(
      grantBody({ ...form, models: '', expiresOn: '', limits: emptyLimitsForm }, { editing: true, now }).body,
    ).toEqual({ models: null, limits: {}, expiresAt: null });
  });

  it('shows a meter per USD or token limit, and knows when a grant has expired', () => {
    expect(grantMeters(grant)).toEqual([{ kind: 'usd', spent: 4.5, amount: 20, period: 'month' }]);
    expect(grantMeters({ ...grant, limits: {} })).toEqual([]);
    expect(isGrantExpired(grant, now)).toBe(false);
    expect(isGrantExpired(grant, new Date('2027-02-01T00:00:00Z'))).toBe(true);
    expect(isGrantExpired({ expiresAt: null }, now)).toBe(false);
  });
});
