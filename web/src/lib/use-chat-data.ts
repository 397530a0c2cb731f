import { useCallback, useEffect, useState } from 'react';
import { get, isMissingRoute } from '../api/client.ts';
import type { Credential, KnowledgeBase, ModelOption } from '../api/types.ts';
import type { Assistant, KeptConversation } from './chat-contract.ts';

/**
 * What a chat can be made with, read once: the models (and bots, assistants), whether any
 * credential exists, the knowledge bases (null on a server without them) and the assistants.
 */
export function useChatChoices(onModels: (found: ModelOption[]) => void) {
  const [models, setModels] = useState<ModelOption[] | null>(null);
  const [hasCredentials, setHasCredentials] = useState<boolean | null>(null);
  const [bases, setBases] = useState<KnowledgeBase[] | null>(null);
  const [assistants, setAssistants] = useState<Assistant[]>([]);
  useEffect(() => {
    get<ModelOption[]>('/api/models')
      .then((found) => {
        setModels(found);
        onModels(found);
      })
      .catch(() => setModels([]));
    get<Credential[]>('/api/credentials')
      .then((found) => setHasCredentials(found.length > 0))
      .catch(() => setHasCredentials(null));
    get<KnowledgeBase[]>('/api/knowledge')
      .then(setBases)
      .catch(() => setBases(null));
    get<Assistant[]>('/api/assistants')
      .then(setAssistants)
      .catch(() => setAssistants([]));
    // Read once per visit of the page.
  }, []);
  return { models, hasCredentials, setHasCredentials, bases, assistants };
}

/** The sidebar's conversations: searched (after a pause in typing), current or archived. */
export function useConversationList(search: string, archived: boolean, onError: (message: string) => void) {
  const [conversations, setConversations] = useState<KeptConversation[]>([]);
  const query = search.trim();
  const load = useCallback(async () => {
    const params = new URLSearchParams();
    if (query) params.set('q', query);
    if (archived) params.set('archived', 'true');
    try {
      setConversations(await get<KeptConversation[]>(`/api/conversations${params.size ? `?${params}` : ''}`));
    } catch (error) {
      if (!isMissingRoute(error)) onError(error instanceof Error ? error.message : String(error));
    }
  }, [query, archived]);
  useEffect(() => {
    const timer = setTimeout(() => void load(), query ? 250 : 0);
    return () => clearTimeout(timer);
  }, [load, query]);
  return { conversations, refresh: () => void load() };
}
