import { KeywayError } from '../errors.ts';
import type { ProviderDefinition } from '../providers/provider.ts';
import { checkKeyFormat, parseSettings } from '../providers/registry.ts';
import { checkUpstreamUrl, type UpstreamPolicy } from '../providers/upstream-url-guard.ts';

/**
 * Parsed settings whose URLs the owner's upstream policy allows (a member's: public addresses only);
 * `invalid_settings` or `blocked_url` otherwise.
 */
export function checkedSettings(
  provider: ProviderDefinition,
  input: Record<string, unknown>,
  policy: UpstreamPolicy,
): Record<string, unknown> {
  const parsed = parseSettings(provider, input);
  if (!parsed.ok) {
    throw new KeywayError(
      'invalid_settings',
      `Invalid settings for ${provider.label}: ${parsed.issues.map((issue) => `${issue.path ? issue.path + ': ' : ''}${issue.message}`).join('; ')}`,
      {
        details: { issues: parsed.issues },
      },
    );
  }
  for (const field of ['baseUrl', 'endpoint']) {
    const url = parsed.settings[field];
    if (typeof url !== 'string') continue;
    const check = checkUpstreamUrl(url, policy);
    if (!check.ok)
      throw new KeywayError('blocked_url', `settings.${field} is not allowed: ${check.message}`, {
        details: { field },
      });
  }
  return parsed.settings;
}

/** The secret to store, trimmed; null for a provider that needs none (`validation_failed` if it does). */
export function secretToStore(provider: ProviderDefinition, secret: string | undefined): string | null {
  const trimmed = secret?.trim();
  if (trimmed) return trimmed;
  if (provider.secret === 'required') {
    throw new KeywayError('validation_failed', `${provider.label} needs an API key: send it as "secret".`, {
      details: { field: 'secret' },
    });
  }
  return null;
}

/** What a save says besides the result: a key that looks wrong for its provider, a key stored twice. */
export function saveWarnings(
  provider: ProviderDefinition,
  secret: string | null,
  duplicates: { name: string }[],
): string[] {
  const warnings: string[] = [];
  const format = secret === null ? null : checkKeyFormat(provider, secret);
  if (format) warnings.push(format);
  if (duplicates.length > 0) {
    warnings.push(
      `The same key is also stored as ${duplicates.map((duplicate) => `"${duplicate.name}"`).join(', ')}. Saved anyway; consider using one credential for both.`,
    );
  }
  return warnings;
}
