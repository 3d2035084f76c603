//  Shared expectations about sb-mock's answers, so tests compare the gateway's output
//  with what the mock really produced rather than with loose shapes.

import OpenAI from 'openai';

export const KEY = 'sk-e2e-test-key';

export const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, max_items: { type: 'integer' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};

//  sb-mock's tool-call arguments (tools/mock/sb_mock_reply.h).
export const ARGS_VALID = '{"city":"New York","max_items":10}';
export const ARGS_BROKEN = "{'city': 'New York', max_items: '10'}";

//  sb-mock's default text: one lorem word per chunk (sb_mock_reply.c s_plan_lorem).
const LOREM = 'Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');
export function lorem(n) {
  return Array.from({ length: n }, (_, i) => LOREM[i % LOREM.length]).join(' ');
}

//  How sb-mock splits `text` over n stream deltas: n pieces of nearly equal numbers of
//  code points, piece p ending at code point floor((p + 1) * chars / n).
export function mockPieces(text, n) {
  const cps = Array.from(text);
  if (n > cps.length) n = cps.length;
  const out = [];
  let start = 0;
  for (let p = 0; p < n; p++) {
    const end = Math.floor(((p + 1) * cps.length) / n);
    out.push(cps.slice(start, end).join(''));
    start = end;
  }
  return out;
}

//  sb-mock's prompt_tokens: ceil(bytes of the body it received / 4).
export function mockPromptTokens(bodyBytes) {
  return Math.floor((bodyBytes + 3) / 4);
}

export function client(stack, opts = {}) {
  return new OpenAI({ baseURL: stack.baseURL, apiKey: KEY, maxRetries: 0, timeout: 20000, ...opts });
}

export const USER = [{ role: 'user', content: 'Say something.' }];
