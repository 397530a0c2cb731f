import { describe, expect, it } from 'vitest';
import { KeywayError } from '../errors.ts';
import { hasImageParts, refuseImagesWithoutVision, visionSupport } from './model-capabilities.ts';

describe('visionSupport', () => {
  it.each([
    'gpt-4o',
    'gpt-4o-mini',
    'gpt-4.1-nano',
    'gpt-5',
    'o1',
    'o3',
    'o4-mini',
    'gpt-4-turbo',
    'claude-3-5-sonnet-20241022',
    'claude-sonnet-4-20250514',
    'claude-opus-4-1',
    'gemini-2.5-flash',
    'models/gemini-1.5-pro',
    'llava:13b',
    'llama3.2-vision:11b',
    'qwen2.5-vl-72b-instruct',
    'Qwen/Qwen2-VL-7B-Instruct',
    'pixtral-12b-2409',
    'gemma3:27b',
  ])('%s reads images', (model) => expect(visionSupport(model)).toBe('yes'));

  it.each([
    'gpt-3.5-turbo',
    'gpt-4',
    'gpt-4-0613',
    'o1-mini',
    'o3-mini',
    'text-embedding-3-small',
    'nomic-embed-text',
    'whisper-1',
    'claude-2.1',
    'deepseek-chat',
    'llama3.1:8b',
    'mistral:7b',
  ])('%s does not', (model) => expect(visionSupport(model)).toBe('no'));

  it.each(['my-finetune', 'command-r-plus', 'some-new-model-2027'])('%s is unknown', (model) =>
    expect(visionSupport(model)).toBe('unknown'),
  );
});

describe('refuseImagesWithoutVision', () => {
  const withImage = {
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ],
  };
  const textOnly = { messages: [{ role: 'user', content: 'hello' }] };

  it('refuses images for a model known without vision, naming the model and vision models', () => {
    let refusal: unknown;
    try {
      refuseImagesWithoutVision(withImage, 'gpt-3.5-turbo', 'work/gpt-3.5-turbo');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(KeywayError);
    expect((refusal as KeywayError).code).toBe('model_without_vision');
    expect((refusal as KeywayError).status).toBe(400);
    expect((refusal as KeywayError).message).toMatch(
      /^work\/gpt-3\.5-turbo cannot read images; pick a vision model such as gpt-4o/,
    );
  });

  it('lets through text for any model, and images for vision and unknown models', () => {
    expect(hasImageParts(textOnly)).toBe(false);
    expect(hasImageParts(withImage)).toBe(true);
    expect(() => refuseImagesWithoutVision(textOnly, 'gpt-3.5-turbo', 'x')).not.toThrow();
    expect(() => refuseImagesWithoutVision(withImage, 'gpt-4o', 'x')).not.toThrow();
    expect(() => refuseImagesWithoutVision(withImage, 'my-finetune', 'x')).not.toThrow();
  });
});
