import { describe, expect, it } from 'vitest'
import type { ChatRequest } from '../../core/schemas/index.js'
import { GEMINI_REASONING_FORMAT, toGeminiRequest } from './request.js'

const base = (extra: Partial<ChatRequest> & Record<string, unknown> = {}): ChatRequest =>
  ({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], ...extra }) as ChatRequest

describe('toGeminiRequest', () => {
  it('merges system and developer messages into systemInstruction', () => {
    const body = toGeminiRequest(
      base({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          { role: 'user', content: 'hi' },
        ],
      }),
    )
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.\n\nAnswer in French.' }] })
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'hi' }] }])
  })

  it('speaks as model for the assistant and merges consecutive turns of one role', () => {
    const body = toGeminiRequest(
      base({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
          { role: 'assistant', content: 'c' },
          { role: 'user', content: 'd' },
        ],
      }),
    )
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'a' }, { text: 'b' }] },
      { role: 'model', parts: [{ text: 'c' }] },
      { role: 'user', parts: [{ text: 'd' }] },
    ])
  })

  it('sends data URLs inline and http URLs as file references with a guessed MIME type', () => {
    const body = toGeminiRequest(
      base({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?x=1' } },
              { type: 'image_url', image_url: { url: 'https://example.com/photo' } },
              { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            ],
          },
        ],
      }),
    )
    expect(body.contents[0].parts).toEqual([
      { text: 'look' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { fileUri: 'https://example.com/cat.webp?x=1', mimeType: 'image/webp' } },
      { fileData: { fileUri: 'https://example.com/photo', mimeType: 'image/jpeg' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
    ])
  })

  it('rejects a content part type Gemini cannot take', () => {
    expect(() =>
      toGeminiRequest(base({ messages: [{ role: 'user', content: [{ type: 'video_url' }] }] })),
    ).toThrow(/video_url/)
  })

  it('turns tool calls into signed functionCall parts and tool results into named functionResponse parts', () => {
    const body = toGeminiRequest(
      base({
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_0_a',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                extra_content: { google: { thought_signature: 'SIG' } },
              },
              { id: 'call_1_b', type: 'function', function: { name: 'get_time', arguments: '{"tz":"JST"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_0_a', content: '{"temp":21}' },
          { role: 'tool', tool_call_id: 'call_1_b', content: 'noon' },
        ],
      }),
    )
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'weather?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'SIG' },
          { functionCall: { name: 'get_time', args: { tz: 'JST' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
          { functionResponse: { name: 'get_time', response: { result: 'noon' } } },
        ],
      },
    ])
  })

  it('sends broken tool-call arguments back as an empty call instead of failing', () => {
    const body = toGeminiRequest(
      base({
        messages: [
          { role: 'user', content: 'x' },
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }],
          },
        ],
      }),
    )
    expect(body.contents[1].parts).toEqual([{ functionCall: { name: 'f', args: {} } }])
  })

  it('returns only Gemini-signed reasoning, as thought parts, and puts a text signature back on the text', () => {
    const body = toGeminiRequest(
      base({
        messages: [
          { role: 'user', content: 'x' },
          {
            role: 'assistant',
            content: 'answer',
            reasoning: 'hmm',
            reasoning_details: [
              {
                type: 'reasoning.text',
                index: 0,
                text: 'hmm',
                signature: 'GSIG',
                format: GEMINI_REASONING_FORMAT,
              },
              { type: 'reasoning.text', index: 1, text: 'unsigned', format: GEMINI_REASONING_FORMAT },
              {
                type: 'reasoning.text',
                index: 2,
                text: 'claude',
                signature: 'ANTHROPIC',
                format: 'anthropic-claude-v1',
              },
              { type: 'reasoning.encrypted', index: 3, data: 'TEXTSIG', format: GEMINI_REASONING_FORMAT },
            ] as any,
          },
          { role: 'user', content: 'y' },
        ],
      }),
    )
    expect(body.contents[1]).toEqual({
      role: 'model',
      parts: [
        { text: 'hmm', thought: true, thoughtSignature: 'GSIG' },
        { text: 'answer', thoughtSignature: 'TEXTSIG' },
      ],
    })
  })

  it('maps sampling parameters into generationConfig', () => {
    const body = toGeminiRequest(
      base({
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        max_tokens: 100,
        max_completion_tokens: 200,
        stop: 'END',
        n: 2,
        seed: 7,
        presence_penalty: 0.5,
        frequency_penalty: 0.25,
      }),
    )
    expect(body.generationConfig).toEqual({
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      maxOutputTokens: 200,
      stopSequences: ['END'],
      candidateCount: 2,
      seed: 7,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
    })
  })

  it('maps response_format to a JSON MIME type and JSON schema', () => {
    expect(toGeminiRequest(base({ response_format: { type: 'json_object' } })).generationConfig).toEqual({
      responseMimeType: 'application/json',
    })
    const schema = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }
    expect(
      toGeminiRequest(
        base({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } }),
      ).generationConfig,
    ).toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema })
  })

  it('maps reasoning_effort to a thinking budget with thoughts included', () => {
    const budget = (effort: string) =>
      toGeminiRequest(base({ reasoning_effort: effort })).generationConfig?.thinkingConfig
    expect(budget('low')).toEqual({ thinkingBudget: 1024, includeThoughts: true })
    expect(budget('medium')).toEqual({ thinkingBudget: 8192, includeThoughts: true })
    expect(budget('high')).toEqual({ thinkingBudget: 24576, includeThoughts: true })
    expect(budget('none')).toEqual({ thinkingBudget: 0 })
  })

  it('declares function tools with their JSON schema and maps tool_choice', () => {
    const parameters = {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    }
    const tools = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters } },
      { type: 'function', function: { name: 'ping' } },
    ]
    const body = toGeminiRequest(
      base({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } }),
    )
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_weather', description: 'Weather', parametersJsonSchema: parameters },
          { name: 'ping' },
        ],
      },
    ])
    expect(body.toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
    })
    expect(toGeminiRequest(base({ tools, tool_choice: 'auto' })).toolConfig).toEqual({
      functionCallingConfig: { mode: 'AUTO' },
    })
    expect(toGeminiRequest(base({ tools, tool_choice: 'none' })).toolConfig).toEqual({
      functionCallingConfig: { mode: 'NONE' },
    })
    expect(toGeminiRequest(base({ tools, tool_choice: 'required' })).toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY' },
    })
  })

  it('passes Gemini-native fields through and drops OpenAI-only ones', () => {
    const body = toGeminiRequest(
      base({
        temperature: 1,
        reasoning_effort: 'low',
        stream_options: { include_usage: true },
        fallbacks: ['openai/gpt-4o'],
        user: 'u1',
        parallel_tool_calls: true,
        logit_bias: { '1': 2 },
        safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
        cachedContent: 'cachedContents/abc',
        labels: { team: 'a' },
        generationConfig: { temperature: 0.1, responseModalities: ['TEXT'] },
        thinkingConfig: { thinkingLevel: 'low' },
        tools: [{ type: 'function', function: { name: 'f' } }, { googleSearch: {} } as any],
      }),
    )
    expect(Object.keys(body).sort()).toEqual(
      ['cachedContent', 'contents', 'generationConfig', 'labels', 'safetySettings', 'tools'].sort(),
    )
    expect(body.generationConfig).toEqual({
      temperature: 0.1,
      responseModalities: ['TEXT'],
      thinkingConfig: { thinkingLevel: 'low' },
    })
    expect(body.tools).toEqual([{ functionDeclarations: [{ name: 'f' }] }, { googleSearch: {} }])
  })
})
