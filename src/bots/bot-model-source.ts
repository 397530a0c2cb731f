import type { Principal } from '../auth/principal.ts';
import type { ModelSource } from '../chat/chat-models.ts';
import { KeywayError } from '../errors.ts';
import type { BotView } from './bot.schema.ts';

/** What the model picker needs of the bots: the caller's own, all or by name. */
export interface BotDirectory {
  list(principal: Principal): Promise<Pick<BotView, 'name' | 'credentialId'>[]>;
  findByName(principal: Principal, name: string): Promise<Pick<BotView, 'name' | 'credentialId'> | undefined>;
}

/** The caller's bots in the chat's model picker, as `bot:<name>`. */
export function botModelSource(bots: BotDirectory): ModelSource {
  return {
    handles: (model) => model.startsWith('bot:'),
    async list(principal) {
      return (await bots.list(principal))
        .filter((bot) => bot.credentialId !== null)
        .map((bot) => ({ id: `bot:${bot.name}`, label: `${bot.name} (bot)`, kind: 'bot' as const }));
    },
    async check(principal, model) {
      const bot = await bots.findByName(principal, model.slice('bot:'.length));
      if (!bot) throw new KeywayError('model_not_found', `You have no bot named "${model.slice(4)}".`);
      if (!bot.credentialId)
        throw new KeywayError(
          'bot_without_credential',
          `The bot "${bot.name}" has no credential; set one first.`,
        );
    },
  };
}
