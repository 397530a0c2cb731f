import type { Hono } from 'hono';
import type { ApiRegistry } from '../http/api-registry.ts';
import type { AppEnv } from '../http/app-env.ts';
import { registerAssistantsRoutes } from './assistants.routes.ts';
import type { AssistantsService } from './assistants.service.ts';
import { registerPresetsRoutes } from './presets.routes.ts';
import type { PresetsService } from './presets.service.ts';
import { registerPromptsRoutes } from './prompts.routes.ts';
import type { PromptsService } from './prompts.service.ts';

/** The library: presets, assistants and saved prompts. */
export function registerLibraryRoutes(
  app: Hono<AppEnv>,
  api: ApiRegistry,
  library: { presets: PresetsService; assistants: AssistantsService; prompts: PromptsService },
): void {
  registerPresetsRoutes(app, api, library.presets);
  registerAssistantsRoutes(app, api, library.assistants);
  registerPromptsRoutes(app, api, library.prompts);
}
