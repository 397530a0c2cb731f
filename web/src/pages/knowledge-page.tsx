import { useCallback, useEffect, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { ApiError, del, get, isMissingRoute, patch, post, uploadFile } from '../api/client.ts';
import type { KnowledgeBase, KnowledgeFile, ModelOption, StoredFile } from '../api/types.ts';
import { Field, formatDate, Notice } from '../components/field.tsx';
import { KnowledgeSharing, sharingSummary } from '../components/knowledge-sharing.tsx';
import { Link } from '../components/link.tsx';
import { dragHasFiles, filesOf, formatSize, pollDelay, uploadErrorText } from '../lib/knowledge.ts';
import { navigate, useTitle } from '../lib/router.ts';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const MISSING = 'Knowledge bases are not available on this server yet.';

/** Knowledge bases: `/knowledge` lists them, `/knowledge/:id` shows one with its files. */
export default function KnowledgePage({ baseId }: { baseId: string | null }) {
  const [models, setModels] = useState<ModelOption[]>([]);
  useEffect(() => {
    get<ModelOption[]>('/api/models')
      .then((found) => setModels(found.filter((option) => option.kind === 'model')))
      .catch(() => setModels([]));
  }, []);
  return baseId === null ? <BaseList models={models} /> : <BaseDetail id={baseId} models={models} />;
}

/** Embedding models first (by name), then the rest: the server checks the choice either way. */
function ModelChoices({ id, models }: { id: string; models: ModelOption[] }) {
  const embedding = (option: ModelOption) => /embed/i.test(option.id);
  const sorted = [...models.filter(embedding), ...models.filter((option) => !embedding(option))];
  return (
    <datalist id={id}>
      {sorted.map((option) => (
        <option key={option.id} value={option.id}>
          {option.label}
        </option>
      ))}
    </datalist>
  );
}

function BaseList({ models }: { models: ModelOption[] }) {
  useTitle('Knowledge');
  const [bases, setBases] = useState<KnowledgeBase[] | null>(null);
  const [name, setName] = useState('');
  const [model, setModel] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setBases(await get<KnowledgeBase[]>('/api/knowledge'));
    } catch (caught) {
      if (isMissingRoute(caught)) setMissing(true);
      else setError(errorText(caught));
    }
  }, []);
  useEffect(() => void load(), [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim() || !model.trim()) {
      setError('Give the knowledge base a name and the embedding model that reads its files.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const created = await post<KnowledgeBase>('/api/knowledge', {
        name: name.trim(),
        embeddingModel: model.trim(),
      });
      navigate(`/knowledge/${encodeURIComponent(created.id)}`);
    } catch (caught) {
      setError(errorText(caught));
      setBusy(false);
    }
  };

  return (
    <section className="page" aria-labelledby="knowledge-title">
      <h1 id="knowledge-title" tabIndex={-1}>
        Knowledge
      </h1>
      <p className="muted">
        A knowledge base is a set of your documents that chats and bots answer from, citing the page or
        heading they used. Its files are read, cut into passages and embedded with the model you choose: one
        you can use on <code>/v1/embeddings</code>, such as <code>credential/text-embedding-3-small</code>.
      </p>
      {missing ? <Notice>{MISSING}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {!missing ? (
        <form className="card row-form" onSubmit={create} aria-label="New knowledge base">
          <Field label="Name" className="grow">
            {(props) => (
              <input {...props} value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
            )}
          </Field>
          <Field label="Embedding model" className="grow">
            {(props) => (
              <input
                {...props}
                list="embedding-models"
                placeholder="credential/text-embedding-3-small"
                value={model}
                onChange={(e) => setModel(e.target.value)}
              />
            )}
          </Field>
          <ModelChoices id="embedding-models" models={models} />
          <button type="submit" className="button primary" disabled={busy}>
            Create knowledge base
          </button>
        </form>
      ) : null}
      {bases && bases.length === 0 ? <p className="muted">No knowledge bases yet.</p> : null}
      {bases && bases.length > 0 ? (
        <ul className="card-list" aria-label="Knowledge bases">
          {bases.map((base) => (
            <li key={base.id} className="card kb-card">
              <div className="card-head">
                <h2>
                  <Link to={`/knowledge/${encodeURIComponent(base.id)}`}>{base.name}</Link>
                </h2>
                <span
                  className={`badge ${base.fileCount > 0 && base.readyCount === base.fileCount ? 'badge-valid' : ''}`}
                >
                  {base.readyCount} of {base.fileCount} files ready
                </span>
              </div>
              <p className="muted small-text">
                Embedded with <code>{base.embeddingModel}</code> · updated {formatDate(base.updatedAt)}
              </p>
              {base.access === 'team' || base.teams.length > 0 ? (
                <p className="muted small-text">{sharingSummary(base)}</p>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

interface Problem {
  key: number;
  text: string;
}

function BaseDetail({ id, models }: { id: string; models: ModelOption[] }) {
  const [base, setBase] = useState<KnowledgeBase | null>(null);
  const [files, setFiles] = useState<KnowledgeFile[] | null>(null);
  const [uploads, setUploads] = useState<StoredFile[]>([]);
  const [pick, setPick] = useState('');
  const [editing, setEditing] = useState<{ name: string; model: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(0);
  const [dragging, setDragging] = useState(false);
  const [gone, setGone] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const problemKey = useRef(0);
  useTitle(base ? `Knowledge: ${base.name}` : 'Knowledge');

  const path = `/api/knowledge/${encodeURIComponent(id)}`;
  const loadFiles = useCallback(async () => {
    setFiles(await get<KnowledgeFile[]>(`${path}/files`));
  }, [path]);

  const load = useCallback(async () => {
    try {
      const [found, uploaded] = await Promise.all([
        get<KnowledgeBase>(path),
        get<StoredFile[]>('/api/files').catch(() => []),
      ]);
      setBase(found);
      setUploads(uploaded);
      await loadFiles();
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 404) setGone(true);
      else setError(errorText(caught));
    }
  }, [path, loadFiles]);
  useEffect(() => void load(), [load]);

  // While any file is still being read or embedded, ask again; stop when all are ready or failed.
  useEffect(() => {
    const delay = files ? pollDelay(files) : null;
    if (delay === null) {
      if (files) void get<KnowledgeBase>(path).then(setBase, () => {});
      return;
    }
    const timer = setTimeout(() => void loadFiles().catch(() => {}), delay);
    return () => clearTimeout(timer);
  }, [files, loadFiles, path]);

  const problem = (text: string) => setProblems((list) => [...list, { key: ++problemKey.current, text }]);

  const addStored = async (file: Pick<StoredFile, 'id' | 'name'>) => {
    try {
      await post<KnowledgeFile>(`${path}/files`, { fileId: file.id });
    } catch (caught) {
      problem(
        caught instanceof ApiError && caught.code === 'unsupported_media_type'
          ? `"${file.name}" cannot go into a knowledge base: ${caught.message}`
          : uploadErrorText(file.name, caught),
      );
    }
  };

  /** Uploads each file, then adds it to the base; a refused file is named with the reason. */
  const addFiles = async (chosen: File[]) => {
    if (chosen.length === 0) return;
    setNotice(null);
    setBusy((count) => count + chosen.length);
    await Promise.all(
      chosen.map(async (file) => {
        try {
          const stored = await uploadFile<StoredFile>(file);
          setUploads((list) => [stored, ...list]);
          await addStored(stored);
        } catch (caught) {
          problem(uploadErrorText(file.name, caught));
        } finally {
          setBusy((count) => count - 1);
        }
      }),
    );
    await loadFiles().catch(() => {});
  };

  const addPicked = async (event: FormEvent) => {
    event.preventDefault();
    const file = uploads.find((candidate) => candidate.id === pick);
    if (!file) return;
    await addStored(file);
    setPick('');
    await loadFiles().catch(() => {});
  };

  const removeFile = async (file: KnowledgeFile) => {
    if (!window.confirm(`Remove "${file.name}" from ${base?.name ?? 'this knowledge base'}?`)) return;
    try {
      await del(`${path}/files/${encodeURIComponent(file.fileId)}`);
      setNotice(`Removed "${file.name}". The file itself is kept.`);
      await loadFiles();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!editing || !base) return;
    const changes = {
      ...(editing.name.trim() !== base.name ? { name: editing.name.trim() } : {}),
      ...(editing.model.trim() !== base.embeddingModel ? { embeddingModel: editing.model.trim() } : {}),
    };
    if (
      changes.embeddingModel &&
      !window.confirm('A new embedding model embeds every file again. Change it?')
    )
      return;
    try {
      setBase(await patch<KnowledgeBase>(path, changes));
      setEditing(null);
      setError(null);
      setNotice('Saved.');
      await loadFiles();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const remove = async () => {
    if (!base) return;
    if (!window.confirm(`Delete the knowledge base "${base.name}"? Its files stay in your files.`)) return;
    try {
      await del(path);
      navigate('/knowledge');
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  const onDragOver = (event: DragEvent) => {
    if (!dragHasFiles(event.dataTransfer) || base?.access === 'team') return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    setDragging(true);
  };
  const onDrop = (event: DragEvent) => {
    setDragging(false);
    const dropped = filesOf(event.dataTransfer);
    if (dropped.length === 0) return;
    event.preventDefault();
    void addFiles(dropped);
  };

  if (gone)
    return (
      <section className="page">
        <h1 tabIndex={-1}>Knowledge base not found</h1>
        <p>
          It was deleted, or it is not yours. <Link to="/knowledge">All knowledge bases</Link>
        </p>
      </section>
    );

  // A base read through a team is read only (older servers say nothing: the base is yours).
  const owned = base?.access !== 'team';
  const inBase = new Set((files ?? []).map((file) => file.fileId));
  const addable = uploads.filter((file) => file.kind === 'document' && !inBase.has(file.id));

  return (
    <section
      className={`page drop-page ${dragging ? 'dragging' : ''}`}
      aria-labelledby="kb-title"
      onDragOver={onDragOver}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <p>
        <Link to="/knowledge">← All knowledge bases</Link>
      </p>
      <div className="page-head">
        <h1 id="kb-title" tabIndex={-1}>
          {base ? `Knowledge base ${base.name}` : 'Knowledge base'}
        </h1>
        {base && owned && !editing ? (
          <div className="row">
            <button
              type="button"
              className="button small"
              onClick={() => setEditing({ name: base.name, model: base.embeddingModel })}
            >
              Rename or change model
            </button>
            <button type="button" className="button small danger" onClick={() => void remove()}>
              Delete
            </button>
          </div>
        ) : null}
      </div>
      {base && !editing ? (
        <p className="muted">
          Embedded with <code>{base.embeddingModel}</code> · {base.readyCount} of {base.fileCount} files ready
        </p>
      ) : null}
      {base && !owned ? <Notice>{sharingSummary(base)}</Notice> : null}
      {base && owned && base.teams ? <KnowledgeSharing base={base} onChanged={setBase} /> : null}
      {editing ? (
        <form className="card row-form" onSubmit={save} aria-label="Edit the knowledge base">
          <Field label="Name" className="grow">
            {(props) => (
              <input
                {...props}
                value={editing.name}
                maxLength={100}
                onChange={(e) => setEditing({ ...editing, name: e.target.value })}
              />
            )}
          </Field>
          <Field label="Embedding model" className="grow">
            {(props) => (
              <input
                {...props}
                list="edit-embedding-models"
                value={editing.model}
                onChange={(e) => setEditing({ ...editing, model: e.target.value })}
              />
            )}
          </Field>
          <ModelChoices id="edit-embedding-models" models={models} />
          <button type="submit" className="button primary">
            Save
          </button>
          <button type="button" className="button ghost" onClick={() => setEditing(null)}>
            Cancel
          </button>
        </form>
      ) : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      {problems.length > 0 ? (
        <div className="notice notice-error" role="alert">
          {problems.map((item) => (
            <p key={item.key}>{item.text}</p>
          ))}
          <button type="button" className="button small" onClick={() => setProblems([])}>
            Dismiss
          </button>
        </div>
      ) : null}

      {owned ? (
        <div className={`drop-zone ${dragging ? 'active' : ''}`}>
          <p>
            <strong>Drop files here</strong> to add them: PDF, DOCX, Markdown, text, HTML, CSV or source code.
          </p>
          <input
            ref={input}
            type="file"
            multiple
            hidden
            aria-label="Files to add"
            onChange={(event) => {
              void addFiles(Array.from(event.target.files ?? []));
              event.target.value = '';
            }}
          />
          <div className="row">
            <button type="button" className="button primary" onClick={() => input.current?.click()}>
              Upload files
            </button>
            {busy > 0 ? (
              <span className="muted" role="status">
                Uploading {busy} file{busy === 1 ? '' : 's'}…
              </span>
            ) : null}
          </div>
          {addable.length > 0 ? (
            <form className="row add-existing" onSubmit={addPicked}>
              <label htmlFor="existing-file" className="muted small-text">
                Or add one you uploaded before
              </label>
              <select id="existing-file" value={pick} onChange={(event) => setPick(event.target.value)}>
                <option value="">Choose a file…</option>
                {addable.map((file) => (
                  <option key={file.id} value={file.id}>
                    {file.name} ({formatSize(file.sizeBytes)})
                  </option>
                ))}
              </select>
              <button type="submit" className="button small" disabled={!pick}>
                Add
              </button>
            </form>
          ) : null}
        </div>
      ) : null}

      {files && files.length === 0 ? <p className="muted">No files in this knowledge base yet.</p> : null}
      {files && files.length > 0 ? (
        <div className="table-scroll">
          <table className="data-table" aria-label="Files">
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Status</th>
                {owned ? (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {files.map((file) => (
                <tr key={file.fileId}>
                  <td className="break">{file.name}</td>
                  <td>
                    <FileStatus file={file} />
                  </td>
                  {owned ? (
                    <td>
                      <div className="row">
                        {file.status === 'failed' ? (
                          <button
                            type="button"
                            className="button small"
                            aria-label={`Retry ${file.name}`}
                            onClick={() =>
                              void addStored({ id: file.fileId, name: file.name }).then(loadFiles)
                            }
                          >
                            Retry
                          </button>
                        ) : null}
                        <button
                          type="button"
                          className="button small ghost"
                          aria-label={`Remove ${file.name}`}
                          onClick={() => void removeFile(file)}
                        >
                          Remove
                        </button>
                      </div>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/** A file's ingestion as the server words it, with a bar while it embeds. */
function FileStatus({ file }: { file: KnowledgeFile }) {
  const kind = file.status === 'ready' ? 'valid' : file.status === 'failed' ? 'failed' : 'working';
  return (
    <div className="file-status" data-status={file.status}>
      <span className={`badge badge-${kind}`}>{file.progress}</span>
      {file.status === 'embedding' && file.totalChunks ? (
        <progress value={file.embeddedChunks} max={file.totalChunks} aria-label={`${file.name} progress`} />
      ) : null}
    </div>
  );
}
