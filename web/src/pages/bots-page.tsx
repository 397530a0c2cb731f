import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { del, get, isMissingRoute, patch, post } from '../api/client.ts';
import type {
  Bot,
  BotSession,
  BotTestAnswer,
  Credential,
  CredentialModels,
  ResponseBody,
} from '../api/types.ts';
import { CopyButton } from '../components/copy-button.tsx';
import { Field, formatDate, Notice } from '../components/field.tsx';
import { Link } from '../components/link.tsx';
import { botBody, botToForm, emptyBotForm, type BotForm, type FieldErrors } from '../lib/forms.ts';
import { navigate, useTitle } from '../lib/router.ts';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

function Unavailable() {
  return (
    <Notice kind="info">
      Bots are not available on this server yet. Chat, credentials and the gateway work without them.
    </Notice>
  );
}

/** Bots: the list, the editor (create and edit), channels and sessions. */
export default function BotsPage({ botId }: { botId: string | null }) {
  // Keyed: leaving "created" for the bot's own page must start from fresh state (the secret goes).
  if (botId === 'new') return <BotEditorPage key="new" botId={null} />;
  if (botId) return <BotEditorPage key={botId} botId={botId} />;
  return <BotList />;
}

function BotList() {
  useTitle('Bots');
  const [bots, setBots] = useState<Bot[] | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    get<Bot[] | { bots: Bot[] }>('/api/bots')
      .then((found) => setBots(Array.isArray(found) ? found : found.bots))
      .catch((caught: unknown) => {
        if (isMissingRoute(caught)) setUnavailable(true);
        else setError(errorText(caught));
      });
  }, []);

  return (
    <section className="page" aria-labelledby="bots-title">
      <div className="page-head">
        <h1 id="bots-title" tabIndex={-1}>
          Bots
        </h1>
        {!unavailable ? (
          <Link to="/bots/new" className="button primary">
            New bot
          </Link>
        ) : null}
      </div>
      <p className="muted">
        A bot answers contacts on a channel (HTTP, a signed webhook, or an Evolution API instance) with one of
        your credentials. Any number of bots can share one credential.
      </p>
      {unavailable ? <Unavailable /> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {bots && bots.length === 0 ? <Notice kind="info">No bots yet.</Notice> : null}
      {bots && bots.length > 0 ? (
        <ul className="card-list" aria-label="Your bots">
          {bots.map((bot) => (
            <li key={bot.id} className="card">
              <div className="card-head">
                <h2>
                  <Link to={`/bots/${encodeURIComponent(bot.id)}`}>{bot.name}</Link>
                </h2>
                <span className="badge">{bot.trigger?.type ?? 'all'}</span>
              </div>
              <dl className="facts">
                <div>
                  <dt>Model</dt>
                  <dd>{bot.model}</dd>
                </div>
                <div>
                  <dt>Channels</dt>
                  <dd>
                    {[
                      'HTTP',
                      bot.channels?.webhook ? 'webhook' : null,
                      bot.channels?.evolution ? 'Evolution' : null,
                    ]
                      .filter(Boolean)
                      .join(', ')}
                  </dd>
                </div>
                <div>
                  <dt>Updated</dt>
                  <dd>{formatDate(bot.updatedAt)}</dd>
                </div>
              </dl>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

function BotEditorPage({ botId }: { botId: string | null }) {
  const [bot, setBot] = useState<Bot | null>(null);
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [otherBots, setOtherBots] = useState<Bot[]>([]);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<Bot | null>(null);
  useTitle(botId ? (bot ? `Bot ${bot.name}` : 'Bot') : 'New bot');

  useEffect(() => {
    get<Credential[]>('/api/credentials')
      .then(setCredentials)
      .catch(() => {});
    get<Bot[] | { bots: Bot[] }>('/api/bots')
      .then((found) =>
        setOtherBots((Array.isArray(found) ? found : found.bots).filter((other) => other.id !== botId)),
      )
      .catch((caught: unknown) => {
        if (isMissingRoute(caught)) setUnavailable(true);
      });
    if (botId) {
      get<Bot>(`/api/bots/${encodeURIComponent(botId)}`)
        .then(setBot)
        .catch((caught: unknown) => setError(errorText(caught)));
    }
  }, [botId]);

  if (created) return <CreatedBot bot={created} />;

  return (
    <section className="page" aria-labelledby="bot-title">
      <p>
        <Link to="/bots">← All bots</Link>
      </p>
      <h1 id="bot-title" tabIndex={-1}>
        {botId ? (bot ? `Bot ${bot.name}` : 'Bot') : 'New bot'}
      </h1>
      {unavailable ? <Unavailable /> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {!unavailable && (botId === null || bot) ? (
        <BotEditor
          key={bot?.id ?? 'new'}
          bot={bot}
          credentials={credentials}
          otherBots={otherBots}
          onSaved={(saved, isNew) => {
            if (isNew) setCreated(saved);
            else setBot(saved);
          }}
        />
      ) : null}
      {bot ? (
        <>
          <Channels bot={bot} secret={null} />
          <TryBot bot={bot} />
          <Sessions bot={bot} />
          <DeleteBot bot={bot} />
        </>
      ) : null}
    </section>
  );
}

function CreatedBot({ bot }: { bot: Bot }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="page" aria-labelledby="created-title">
      <h1 id="created-title" ref={heading} tabIndex={-1}>
        Bot {bot.name} created
      </h1>
      <Channels bot={bot} secret={bot.inboundSecret ?? null} />
      <div className="row">
        <button
          type="button"
          className="button primary"
          onClick={() => navigate(`/bots/${encodeURIComponent(bot.id)}`)}
        >
          I saved the secret, continue
        </button>
      </div>
    </section>
  );
}

function Channels({ bot, secret }: { bot: Bot; secret: string | null }) {
  const origin = window.location.origin;
  const webhook = `${origin}/hooks/bots/${encodeURIComponent(bot.id)}`;
  const evolution = `${origin}/hooks/evolution/${encodeURIComponent(bot.id)}`;
  return (
    <div className="card" aria-labelledby="channels-title">
      <h2 id="channels-title">Inbound webhooks</h2>
      {secret ? (
        <Notice kind="warning">
          <p>
            <strong>Inbound secret — shown only now.</strong> Channels must send it as the{' '}
            <code>x-keyway-secret</code> header (or the <code>secret</code> query parameter).
          </p>
          <div className="copy-row">
            <code className="secret-value" data-testid="inbound-secret">
              {secret}
            </code>
            <CopyButton text={secret} label="Copy secret" />
          </div>
        </Notice>
      ) : null}
      <div className="copy-row">
        <span className="copy-label">Generic webhook</span>
        <code className="break">{webhook}</code>
        <CopyButton text={webhook} label="Copy URL" />
      </div>
      <div className="copy-row">
        <span className="copy-label">Evolution API webhook (MESSAGES_UPSERT)</span>
        <code className="break">{evolution}</code>
        <CopyButton text={evolution} label="Copy URL" />
      </div>
      {secret ? (
        <div className="copy-row">
          <span className="copy-label">Evolution URL with the secret (Evolution cannot send headers)</span>
          <CopyButton
            text={`${evolution}?secret=${encodeURIComponent(secret)}`}
            label="Copy URL with secret"
          />
        </div>
      ) : (
        <p className="muted small-text">
          Evolution API cannot send headers: append ?secret=… (the inbound secret) to its URL.
        </p>
      )}
    </div>
  );
}

function Section({ title, children, hint }: { title: string; children: ReactNode; hint?: string }) {
  return (
    <fieldset className="card section">
      <legend>{title}</legend>
      {hint ? <p className="muted small-text">{hint}</p> : null}
      {children}
    </fieldset>
  );
}

function BotEditor({
  bot,
  credentials,
  otherBots,
  onSaved,
}: {
  bot: Bot | null;
  credentials: Credential[];
  otherBots: Bot[];
  onSaved: (bot: Bot, isNew: boolean) => void;
}) {
  const [form, setForm] = useState<BotForm>(() => (bot ? botToForm(bot) : emptyBotForm));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [modelIds, setModelIds] = useState<string[]>([]);
  const set = <K extends keyof BotForm>(key: K, value: BotForm[K]) =>
    setForm((current) => ({ ...current, [key]: value }));
  const text = (key: keyof BotForm) => ({
    value: form[key] as string,
    onChange: (event: { target: { value: string } }) => set(key, event.target.value as never),
  });

  useEffect(() => {
    if (!form.credentialId) return;
    get<CredentialModels>(`/api/credentials/${encodeURIComponent(form.credentialId)}/models`)
      .then((found) => setModelIds(found.models.map((model) => model.id)))
      .catch(() => setModelIds([]));
  }, [form.credentialId]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { errors: found, body } = botBody(form, bot !== null);
    setErrors(found);
    setSaved(null);
    if (!body) {
      setError('Some settings need attention (marked below).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const result = bot
        ? await patch<Bot>(`/api/bots/${encodeURIComponent(bot.id)}`, body)
        : await post<Bot>('/api/bots', body);
      set('evolutionApiKey', '');
      setSaved(bot ? 'Saved.' : null);
      onSaved(result, bot === null);
    } catch (caught) {
      set('evolutionApiKey', '');
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="bot-form" onSubmit={(event) => void submit(event)} noValidate>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {saved ? <Notice kind="success">{saved}</Notice> : null}
      <Section title="Model and credential">
        <div className="grid-2">
          <Field label="Name" error={errors.name} hint="Callable on /v1 as bot:<name>.">
            {(props) => <input {...props} name="bot-name" autoComplete="off" {...text('name')} />}
          </Field>
          <Field label="Credential" error={errors.credentialId}>
            {(props) => (
              <select {...props} name="credential" {...text('credentialId')}>
                <option value="">Choose…</option>
                {credentials.map((credential) => (
                  <option key={credential.id} value={credential.id}>
                    {credential.name} ({credential.provider}){credential.shared ? ' — shared' : ''}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Model" error={errors.model}>
            {(props) => (
              <>
                <input {...props} name="model" list="bot-models" autoComplete="off" {...text('model')} />
                <datalist id="bot-models">
                  {modelIds.map((id) => (
                    <option key={id} value={id} />
                  ))}
                </datalist>
              </>
            )}
          </Field>
          <Field label="Fallback credentials" hint="Tried in order when the main one fails.">
            {(props) => (
              <select
                {...props}
                multiple
                value={form.fallbackCredentialIds}
                onChange={(event) =>
                  set(
                    'fallbackCredentialIds',
                    Array.from(event.target.selectedOptions, (option) => option.value),
                  )
                }
              >
                {credentials
                  .filter((credential) => credential.id !== form.credentialId)
                  .map((credential) => (
                    <option key={credential.id} value={credential.id}>
                      {credential.name}
                    </option>
                  ))}
              </select>
            )}
          </Field>
        </div>
      </Section>

      <Section title="Prompt and seed messages">
        <Field label="System prompt">
          {(props) => <textarea {...props} rows={4} {...text('systemPrompt')} />}
        </Field>
        {form.seedMessages.map((message, index) => (
          <div className="seed-row" key={index}>
            <Field label={`Seed ${index + 1} role`}>
              {(props) => (
                <select
                  {...props}
                  value={message.role}
                  onChange={(event) =>
                    set(
                      'seedMessages',
                      form.seedMessages.map((m, i) =>
                        i === index
                          ? { ...m, role: event.target.value as 'user' | 'assistant' | 'system' }
                          : m,
                      ),
                    )
                  }
                >
                  <option value="system">system</option>
                  <option value="user">user</option>
                  <option value="assistant">assistant</option>
                </select>
              )}
            </Field>
            <Field label={`Seed ${index + 1} content`} error={errors[`seed.${index}`]} className="grow">
              {(props) => (
                <textarea
                  {...props}
                  rows={2}
                  value={message.content}
                  onChange={(event) =>
                    set(
                      'seedMessages',
                      form.seedMessages.map((m, i) =>
                        i === index ? { ...m, content: event.target.value } : m,
                      ),
                    )
                  }
                />
              )}
            </Field>
            <button
              type="button"
              className="button small ghost"
              aria-label={`Remove seed message ${index + 1}`}
              onClick={() =>
                set(
                  'seedMessages',
                  form.seedMessages.filter((_, i) => i !== index),
                )
              }
            >
              Remove
            </button>
          </div>
        ))}
        <button
          type="button"
          className="button small"
          onClick={() => set('seedMessages', [...form.seedMessages, { role: 'user', content: '' }])}
        >
          Add seed message
        </button>
      </Section>

      <Section title="Generation">
        <div className="grid-3">
          <Field label="Temperature" error={errors.temperature} hint="0–2; empty: the provider's default.">
            {(props) => <input {...props} inputMode="decimal" {...text('temperature')} />}
          </Field>
          <Field label="Max tokens" error={errors.maxTokens}>
            {(props) => <input {...props} inputMode="numeric" {...text('maxTokens')} />}
          </Field>
          <Field label="Top p" error={errors.topP}>
            {(props) => <input {...props} inputMode="decimal" {...text('topP')} />}
          </Field>
        </div>
      </Section>

      <Section title="Trigger" hint="When a message opens a session. 'none': only an explicit session start.">
        <div className="grid-3">
          <Field label="Trigger">
            {(props) => (
              <select {...props} {...text('triggerType')}>
                <option value="all">Every message</option>
                <option value="keyword">A keyword</option>
                <option value="none">None</option>
              </select>
            )}
          </Field>
          {form.triggerType === 'keyword' ? (
            <>
              <Field label="Operator">
                {(props) => (
                  <select {...props} {...text('triggerOperator')}>
                    <option value="equals">equals</option>
                    <option value="contains">contains</option>
                    <option value="startsWith">starts with</option>
                    <option value="endsWith">ends with</option>
                    <option value="regex">regular expression</option>
                  </select>
                )}
              </Field>
              <Field label="Keyword" error={errors.triggerValue}>
                {(props) => <input {...props} autoComplete="off" {...text('triggerValue')} />}
              </Field>
            </>
          ) : null}
        </div>
        {form.triggerType === 'keyword' ? (
          <label className="check">
            <input
              type="checkbox"
              checked={form.caseSensitive}
              onChange={(event) => set('caseSensitive', event.target.checked)}
            />
            Case-sensitive
          </label>
        ) : null}
      </Section>

      <Section title="Sessions">
        <div className="grid-2">
          <Field label="Finish keyword" hint="Closes the contact's session, e.g. #stop.">
            {(props) => <input {...props} autoComplete="off" {...text('keywordFinish')} />}
          </Field>
          <Field label="Expire after (minutes idle)" error={errors.expireMinutes} hint="Empty: never.">
            {(props) => <input {...props} inputMode="numeric" {...text('expireMinutes')} />}
          </Field>
          <Field
            label="Debounce (seconds)"
            error={errors.debounceSeconds}
            hint="Merges a burst of messages into one."
          >
            {(props) => <input {...props} inputMode="decimal" {...text('debounceSeconds')} />}
          </Field>
          <Field label="History window (messages)" error={errors.historyWindow}>
            {(props) => <input {...props} inputMode="numeric" {...text('historyWindow')} />}
          </Field>
        </div>
      </Section>

      <Section
        title="Ignore list"
        hint="Contacts the bot never answers: one per line; wildcards such as *@g.us (all groups)."
      >
        <Field label="Ignored contacts">
          {(props) => <textarea {...props} rows={3} spellCheck={false} {...text('ignore')} />}
        </Field>
      </Section>

      <Section title="Human takeover">
        <label className="check">
          <input
            type="checkbox"
            checked={form.pauseOnFromMe}
            onChange={(event) => set('pauseOnFromMe', event.target.checked)}
          />
          Pause the session when an operator writes (fromMe)
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={form.listenFromMe}
            onChange={(event) => set('listenFromMe', event.target.checked)}
          />
          Let operator messages through to the bot
        </label>
      </Section>

      <Section title="Replies">
        <label className="check">
          <input
            type="checkbox"
            checked={form.splitEnabled}
            onChange={(event) => set('splitEnabled', event.target.checked)}
          />
          Split replies on blank lines
        </label>
        <div className="grid-2">
          <Field label="Delay between parts (ms)" error={errors.splitDelayMs}>
            {(props) => (
              <input {...props} inputMode="numeric" disabled={!form.splitEnabled} {...text('splitDelayMs')} />
            )}
          </Field>
          <Field label="Fallback bot" hint="Answers when this bot's trigger does not match.">
            {(props) => (
              <select {...props} {...text('fallbackBotId')}>
                <option value="">None</option>
                {otherBots.map((other) => (
                  <option key={other.id} value={other.id}>
                    {other.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Unreadable content reply" hint="Sent for images, audio… the bot cannot read.">
            {(props) => <input {...props} {...text('unknownMessage')} />}
          </Field>
          <Field
            label="Failure reply"
            hint="Sent when the provider fails; its error text never reaches the contact."
          >
            {(props) => <input {...props} {...text('failureMessage')} />}
          </Field>
        </div>
      </Section>

      <Section title="Channels">
        <Field
          label="Webhook callback URL"
          error={errors.callbackUrl}
          hint="Replies are POSTed here, signed with HMAC-SHA256."
        >
          {(props) => <input {...props} type="url" autoComplete="off" {...text('callbackUrl')} />}
        </Field>
        <div className="grid-3">
          <Field label="Evolution server URL" error={errors.evolutionServerUrl}>
            {(props) => <input {...props} type="url" autoComplete="off" {...text('evolutionServerUrl')} />}
          </Field>
          <Field label="Evolution instance" error={errors.evolutionInstance}>
            {(props) => <input {...props} autoComplete="off" {...text('evolutionInstance')} />}
          </Field>
          <Field
            label="Evolution API key"
            error={errors.evolutionApiKey}
            hint={bot?.channels?.evolution ? 'Write-only. Leave empty to keep the saved key.' : 'Write-only.'}
          >
            {(props) => <input {...props} type="password" autoComplete="off" {...text('evolutionApiKey')} />}
          </Field>
        </div>
      </Section>

      <div className="row sticky-actions">
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Saving…' : bot ? 'Save bot' : 'Create bot'}
        </button>
        <Link to="/bots" className="button ghost">
          Cancel
        </Link>
      </div>
    </form>
  );
}

function TryBot({ bot }: { bot: Bot }) {
  const [contact, setContact] = useState('tester');
  const [message, setMessage] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!message.trim()) return;
    setBusy(true);
    try {
      const answer = await post<BotTestAnswer>(`/api/bots/${encodeURIComponent(bot.id)}/messages`, {
        contact,
        text: message,
      });
      setResult(
        answer.replies.length > 0 ? answer.replies.join('\n\n') : `(no reply: ${answer.reason ?? 'silent'})`,
      );
    } catch (caught) {
      setResult(`Failed: ${errorText(caught)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={(event) => void submit(event)} aria-labelledby="try-title">
      <h2 id="try-title">Try it</h2>
      <div className="grid-2">
        <Field label="Contact">
          {(props) => <input {...props} value={contact} onChange={(e) => setContact(e.target.value)} />}
        </Field>
        <Field label="Message">
          {(props) => <input {...props} value={message} onChange={(e) => setMessage(e.target.value)} />}
        </Field>
      </div>
      <button type="submit" className="button small" disabled={busy}>
        Send as contact
      </button>
      {result !== null ? (
        <pre className="try-result" aria-live="polite">
          {result}
        </pre>
      ) : null}
    </form>
  );
}

function Sessions({ bot }: { bot: Bot }) {
  const [sessions, setSessions] = useState<BotSession[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const shownSession = sessions?.find((session) => session.id === shown) ?? null;
  const load = useCallback(async () => {
    try {
      const found = await get<BotSession[] | { sessions: BotSession[] }>(
        `/api/bots/${encodeURIComponent(bot.id)}/sessions`,
      );
      setSessions(Array.isArray(found) ? found : found.sessions);
    } catch (caught) {
      setError(errorText(caught));
    }
  }, [bot.id]);
  useEffect(() => void load(), [load]);

  const change = async (session: BotSession, status: BotSession['status']) => {
    try {
      await post(
        `/api/bots/${encodeURIComponent(bot.id)}/sessions/${encodeURIComponent(session.contact)}/status`,
        { status },
      );
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <div className="card" aria-labelledby="sessions-title">
      <div className="card-head">
        <h2 id="sessions-title">Sessions</h2>
        <button type="button" className="button small ghost" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {sessions && sessions.length === 0 ? (
        <p className="muted">No contact has talked to this bot yet.</p>
      ) : null}
      {sessions && sessions.length > 0 ? (
        <div className="table-scroll">
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Contact</th>
                <th scope="col">Status</th>
                <th scope="col">Last activity</th>
                <th scope="col">Messages</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((session) => (
                <tr key={session.id}>
                  <td>
                    {session.contactName ? `${session.contactName} ` : ''}
                    <code>{session.contact}</code>
                  </td>
                  <td>
                    <span className={`badge badge-${session.status}`}>{session.status}</span>
                  </td>
                  <td>{formatDate(session.lastActivityAt)}</td>
                  <td>
                    <button
                      type="button"
                      className="button small"
                      aria-expanded={shown === session.id}
                      aria-controls={`transcript-${session.id}`}
                      aria-label={`${shown === session.id ? 'Hide' : 'Show'} the transcript with ${session.contact} (${session.messages} messages)`}
                      onClick={() => setShown((current) => (current === session.id ? null : session.id))}
                    >
                      {shown === session.id ? 'Hide' : `Show ${session.messages}`}
                    </button>
                  </td>
                  <td>
                    <div className="row">
                      {(['opened', 'paused', 'closed'] as const)
                        .filter((status) => status !== session.status)
                        .map((status) => (
                          <button
                            key={status}
                            type="button"
                            className="button small ghost"
                            onClick={() => void change(session, status)}
                            aria-label={`${status === 'opened' ? 'Resume' : status === 'paused' ? 'Pause' : 'Close'} the session with ${session.contact}`}
                          >
                            {status === 'opened' ? 'Resume' : status === 'paused' ? 'Pause' : 'Close'}
                          </button>
                        ))}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {shownSession ? (
        <Transcript
          key={`${shownSession.id} ${shownSession.lastActivityAt}`}
          botId={bot.id}
          session={shownSession}
        />
      ) : null}
    </div>
  );
}

type TranscriptPage = ResponseBody<'/api/bots/{id}/sessions/{sessionId}/messages', 'get'>;

/** What a contact and the bot said in one session, oldest first; older messages on demand. */
function Transcript({ botId, session }: { botId: string; session: BotSession }) {
  const [messages, setMessages] = useState<TranscriptPage['messages'] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const path = `/api/bots/${encodeURIComponent(botId)}/sessions/${encodeURIComponent(session.id)}/messages`;

  const loadPage = useCallback(
    async (before?: number) => {
      try {
        const page = await get<TranscriptPage>(before ? `${path}?before=${before}` : path);
        setMessages((current) => (before ? [...page.messages, ...(current ?? [])] : page.messages));
        setHasMore(page.hasMore);
      } catch (caught) {
        setError(errorText(caught));
      }
    },
    [path],
  );
  useEffect(() => void loadPage(), [loadPage]);

  return (
    <div
      className="transcript-box"
      id={`transcript-${session.id}`}
      aria-label={`Transcript with ${session.contact}`}
      role="region"
    >
      <h3>
        Transcript with {session.contactName ? `${session.contactName} ` : ''}
        <code>{session.contact}</code>
      </h3>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {messages === null && !error ? <p className="muted">Loading…</p> : null}
      {hasMore && messages ? (
        <button type="button" className="button small ghost" onClick={() => void loadPage(messages[0]?.id)}>
          Show older messages
        </button>
      ) : null}
      {messages && messages.length === 0 ? <p className="muted">Nothing was said in this session.</p> : null}
      {messages && messages.length > 0 ? (
        <ol className="transcript">
          {messages.map((message) => (
            <li key={message.id} className={message.role === 'assistant' ? 'from-bot' : 'from-contact'}>
              <span className="visually-hidden">{message.role === 'assistant' ? 'Bot: ' : 'Contact: '}</span>
              {message.content}
              <span className="when">{formatDate(message.at)}</span>
            </li>
          ))}
        </ol>
      ) : null}
    </div>
  );
}

function DeleteBot({ bot }: { bot: Bot }) {
  const [error, setError] = useState<string | null>(null);
  const remove = async () => {
    if (!window.confirm(`Delete the bot "${bot.name}" and its sessions?`)) return;
    try {
      await del(`/api/bots/${encodeURIComponent(bot.id)}`);
      navigate('/bots');
    } catch (caught) {
      setError(errorText(caught));
    }
  };
  return (
    <div className="danger-zone">
      {error ? <Notice kind="error">{error}</Notice> : null}
      <button type="button" className="button danger" onClick={() => void remove()}>
        Delete bot
      </button>
    </div>
  );
}
