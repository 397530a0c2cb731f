import { KeywayError } from '../errors.ts';
import type { ChatRequest } from './openai-types.ts';

/**
 * What Keyway knows about a model's ability to read images, from its name: providers do not say in
 * their model lists, so this is a list of families. A model in neither list is `unknown` and is
 * allowed (a new model should not be refused for being new; its provider refuses if it must).
 */
export type VisionSupport = 'yes' | 'no' | 'unknown';

/**
 * Families that do not read images, checked first (`o1-mini` is not vision though `o1*` is). Patterns
 * match the model id without its provider's prefix (`openai/gpt-4o` → `gpt-4o`), case-insensitively.
 */
const WITHOUT_VISION = [
  'gpt-3.5*',
  'gpt-4',
  'gpt-4-0*',
  'gpt-4-32k*',
  'gpt-4o-audio*',
  'gpt-4o-realtime*',
  'gpt-4o-*transcribe*',
  'gpt-4o-*tts*',
  'o1-mini*',
  'o1-preview*',
  'o3-mini*',
  'text-embedding*',
  '*embed*',
  'whisper*',
  'tts-*',
  'dall-e*',
  'davinci*',
  'babbage*',
  'claude-2*',
  'claude-instant*',
  'deepseek-chat*',
  'deepseek-coder*',
  'deepseek-reasoner*',
  'deepseek-r1*',
  'llama2*',
  'llama-2*',
  'llama3',
  'llama3:*',
  'llama3.1*',
  'llama3.3*',
  'llama-3.1*',
  'llama-3.3*',
  'mistral',
  'mistral:*',
  'mistral-7b*',
  'mixtral*',
  'codestral*',
  'qwen2.5-coder*',
  'phi3*',
  'gemma2*',
  'gemma:*',
  'tinyllama*',
] as const;

const WITH_VISION = [
  'gpt-4o*',
  'chatgpt-4o*',
  'gpt-4.1*',
  'gpt-4.5*',
  'gpt-4-turbo*',
  'gpt-4-*vision*',
  'gpt-5*',
  'o1*',
  'o3*',
  'o4*',
  'claude-3*',
  'claude-*-4*',
  'claude-4*',
  'gemini-*',
  'llava*',
  'bakllava*',
  'llama3.2-vision*',
  'llama-3.2-*vision*',
  'llama-4*',
  'llama4*',
  'qwen*-vl*',
  'qwen*vl*',
  'pixtral*',
  'mistral-small-3.1*',
  'mistral-medium*',
  'gemma3*',
  'gemma-3*',
  'minicpm-v*',
  'moondream*',
  'grok-*vision*',
  'grok-4*',
] as const;

const compile = (patterns: readonly string[]) =>
  patterns.map(
    (pattern) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i'),
  );
const NO = compile(WITHOUT_VISION);
const YES = compile(WITH_VISION);

/** Whether `model` (a provider's model id, maybe with an `org/` or `models/` prefix) reads images. */
export function visionSupport(model: string): VisionSupport {
  const name = model.slice(model.lastIndexOf('/') + 1).trim();
  if (NO.some((pattern) => pattern.test(name))) return 'no';
  if (YES.some((pattern) => pattern.test(name))) return 'yes';
  return 'unknown';
}

/** Whether any message of the request carries an image part (`image_url`, OpenAI's format). */
export function hasImageParts(request: Pick<ChatRequest, 'messages'>): boolean {
  return request.messages.some(
    (message) =>
      Array.isArray(message.content) &&
      message.content.some(
        (part: unknown) =>
          typeof part === 'object' && part !== null && (part as { type?: unknown }).type === 'image_url',
      ),
  );
}

/**
 * The refusal before any call: `model_without_vision` when the request has images and the model is
 * known not to read them. `shownName` is the name the caller used (`work/gpt-3.5-turbo`).
 */
export function refuseImagesWithoutVision(
  request: Pick<ChatRequest, 'messages'>,
  model: string,
  shownName: string,
): void {
  if (visionSupport(model) !== 'no' || !hasImageParts(request)) return;
  throw new KeywayError(
    'model_without_vision',
    `${shownName} cannot read images; pick a vision model such as gpt-4o, claude-sonnet-4, gemini-2.5-flash or llama3.2-vision.`,
    { details: { param: 'model', model: shownName } },
  );
}
