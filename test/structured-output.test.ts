import Anthropic from '@anthropic-ai/sdk'
import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime'
import { GoogleGenAI, Type } from '@google/genai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeBedrock } from './fakes/bedrock.js'
import { startFakeCohere } from './fakes/cohere.js'
import { startFakeGemini } from './fakes/gemini.js'
import type { FakeServer } from './fakes/server.js'
import { fakeBedrockProvider, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { bedrockCaller } from './helpers/bedrock-caller.js'

/**
 * Structured output asked for in one wire format is applied by a provider of another: OpenAI's
 * `response_format` and Responses `text.format`, GenAI's `responseSchema`, Anthropic's
 * `output_config.format` reach Anthropic (output_config.format), Gemini (responseJsonSchema) and
 * Bedrock Converse (outputConfig.textFormat), and the client reads JSON text that fits its schema.
 */
const CREDS = { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake-secret' }
const CLAUDE = 'anthropic/claude-sonnet-4-5-20250929'
const SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, population: { type: 'integer' } },
  required: ['city', 'population'],
  additionalProperties: false,
}
const RESPONSE_FORMAT = {
  type: 'json_schema',
  json_schema: { name: 'city_facts', schema: SCHEMA, strict: true },
} as const

let anthropic: FakeServer
let gemini: FakeServer
let bedrock: FakeServer
let cohere: FakeServer
let gw: RunningHeimdall
let client: OpenAI

beforeAll(async () => {
  ;[anthropic, gemini, bedrock, cohere] = await Promise.all([
    startFakeAnthropic(),
    startFakeGemini(),
    startFakeBedrock([CREDS]),
    startFakeCohere(),
  ])
  gw = await startHeimdall({
    providers: {
      anthropic: fakeProvider(anthropic.url),
      gemini: fakeProvider(gemini.url),
      cohere: fakeProvider(cohere.url, {}, [{ name: 'main', value: 'co-good', models: ['*'], weight: 1 }]),
      bedrock: fakeBedrockProvider(bedrock.url, CREDS, 'us-west-2'),
    },
  })
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([anthropic?.close(), gemini?.close(), bedrock?.close(), cohere?.close()])
})
beforeEach(() => {
  for (const f of [anthropic, gemini, bedrock, cohere]) f.reset()
})

async function streamedContent(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
  return text
}

describe('OpenAI response_format json_schema reaches every provider', () => {
  it('Anthropic gets output_config.format and the client parses JSON from message.content', async () => {
    const res = await client.chat.completions.create({
      model: CLAUDE,
      messages: [{ role: 'user', content: 'Facts about Paris' }],
      response_format: RESPONSE_FORMAT,
    })
    expect(anthropic.requests[0].body.output_config).toEqual({
      format: { type: 'json_schema', schema: SCHEMA },
    })
    expect(JSON.parse(res.choices[0].message.content ?? '')).toEqual({
      city: 'Echo: Facts about Paris',
      population: 42,
    })
    expect(res.choices[0].finish_reason).toBe('stop')
  })

  it('Anthropic streams the JSON as content deltas', async () => {
    const stream = await client.chat.completions.create({
      model: CLAUDE,
      messages: [{ role: 'user', content: 'Facts about Rome' }],
      response_format: RESPONSE_FORMAT,
      stream: true,
    })
    const parsed = JSON.parse(await streamedContent(stream))
    expect(parsed).toEqual({ city: 'Echo: Facts about Rome', population: 42 })
    expect(anthropic.requests[0].body.output_config.format.schema).toEqual(SCHEMA)
  })

  it('Anthropic is told to answer JSON for json_object', async () => {
    await client.chat.completions.create({
      model: CLAUDE,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Facts about Oslo' },
      ],
      response_format: { type: 'json_object' },
    })
    expect(anthropic.requests[0].body.system).toMatch(/^Be brief\.\n\n.*single valid JSON object/)
    expect(anthropic.requests[0].body.output_config).toBeUndefined()
  })

  it('a malformed json_schema is a 400, not a silently unstructured answer', async () => {
    const err = await client.chat.completions
      .create({
        model: CLAUDE,
        messages: [{ role: 'user', content: 'Facts' }],
        response_format: { type: 'json_schema', json_schema: { name: 'x' } } as never,
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as Error).message).toMatch(/json_schema\.schema/)
    expect(anthropic.requests).toHaveLength(0)
  })

  it('Gemini gets responseMimeType and responseJsonSchema', async () => {
    const res = await client.chat.completions.create({
      model: 'gemini/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'Facts about Lima' }],
      response_format: RESPONSE_FORMAT,
    })
    const gc = gemini.requests[0].body.generationConfig
    expect(gc).toMatchObject({ responseMimeType: 'application/json', responseJsonSchema: SCHEMA })
    expect(JSON.parse(res.choices[0].message.content ?? '')).toEqual({
      city: 'Echo: Facts about Lima',
      population: 42,
    })
  })

  it('Cohere gets response_format json_object with the json_schema', async () => {
    const res = await client.chat.completions.create({
      model: 'cohere/command-a-03-2025',
      messages: [{ role: 'user', content: 'Facts about Pune' }],
      response_format: RESPONSE_FORMAT,
    })
    expect(cohere.requests[0].body.response_format).toEqual({ type: 'json_object', json_schema: SCHEMA })
    expect(JSON.parse(res.choices[0].message.content ?? '')).toEqual({
      city: 'Echo: Facts about Pune',
      population: 42,
    })
  })

  it('Bedrock Converse gets outputConfig.textFormat, streamed and not', async () => {
    const model = 'bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0'
    const ask = { model, messages: [{ role: 'user' as const, content: 'Facts about Kyiv' }] }
    const res = await client.chat.completions.create({ ...ask, response_format: RESPONSE_FORMAT })
    const format = bedrock.requests[0].body.outputConfig.textFormat
    expect(format.type).toBe('json_schema')
    expect(JSON.parse(format.structure.jsonSchema.schema)).toEqual(SCHEMA)
    expect(format.structure.jsonSchema.name).toBe('city_facts')
    const expected = { city: 'Bedrock echo: Facts about Kyiv', population: 42 }
    expect(JSON.parse(res.choices[0].message.content ?? '')).toEqual(expected)

    const stream = await client.chat.completions.create({
      ...ask,
      response_format: RESPONSE_FORMAT,
      stream: true,
    })
    expect(JSON.parse(await streamedContent(stream))).toEqual(expected)
  })
})

describe('Responses text.format reaches Anthropic', () => {
  it('is applied, echoed, and read back as output_text', async () => {
    const res = await client.responses.create({
      model: CLAUDE,
      input: 'Facts about Quito',
      text: { format: { type: 'json_schema', name: 'city_facts', schema: SCHEMA, strict: true } },
    })
    expect(anthropic.requests[0].body.output_config).toEqual({
      format: { type: 'json_schema', schema: SCHEMA },
    })
    expect(JSON.parse(res.output_text)).toEqual({ city: 'Echo: Facts about Quito', population: 42 })
    expect(res.text?.format?.type).toBe('json_schema')
  })

  it('streams the JSON as output_text deltas', async () => {
    const stream = await client.responses.create({
      model: CLAUDE,
      input: 'Facts about Cairo',
      text: { format: { type: 'json_schema', name: 'city_facts', schema: SCHEMA } },
      stream: true,
    })
    let text = ''
    for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta
    expect(JSON.parse(text)).toEqual({ city: 'Echo: Facts about Cairo', population: 42 })
  })
})

describe('Drop-in structured output in, another provider out', () => {
  it('GenAI responseSchema (OpenAPI types) reaches Anthropic as JSON Schema', async () => {
    const ai = new GoogleGenAI({
      apiKey: 'AIza-unused',
      httpOptions: { baseUrl: `${gw.url}/genai`, retryOptions: { attempts: 1 } },
    })
    const res = await ai.models.generateContent({
      model: CLAUDE,
      contents: 'Facts about Bern',
      config: {
        responseMimeType: 'application/json',
        responseSchema: {
          type: Type.OBJECT,
          properties: { city: { type: Type.STRING }, founded: { type: Type.INTEGER, nullable: true } },
          propertyOrdering: ['city', 'founded'],
        },
      },
    })
    expect(anthropic.requests[0].body.output_config.format.schema).toEqual({
      type: 'object',
      properties: { city: { type: 'string' }, founded: { type: ['integer', 'null'] } },
    })
    expect(JSON.parse(res.text ?? '')).toEqual({ city: 'Echo: Facts about Bern', founded: 42 })
  })

  it('GenAI responseJsonSchema reaches Anthropic unchanged', async () => {
    const ai = new GoogleGenAI({
      apiKey: 'AIza-unused',
      httpOptions: { baseUrl: `${gw.url}/genai`, retryOptions: { attempts: 1 } },
    })
    const res = await ai.models.generateContent({
      model: CLAUDE,
      contents: 'Facts about Riga',
      config: { responseMimeType: 'application/json', responseJsonSchema: SCHEMA },
    })
    expect(anthropic.requests[0].body.output_config.format.schema).toEqual(SCHEMA)
    expect(JSON.parse(res.text ?? '')).toEqual({ city: 'Echo: Facts about Riga', population: 42 })
  })

  it('Bedrock Converse outputConfig.textFormat reaches Anthropic as output_config.format', async () => {
    const sdk = bedrockCaller(`${gw.url}/bedrock`)
    const res = await sdk.send(
      new ConverseCommand({
        modelId: CLAUDE,
        messages: [{ role: 'user', content: [{ text: 'Facts about Baku' }] }],
        outputConfig: {
          textFormat: {
            type: 'json_schema',
            structure: { jsonSchema: { name: 'city_facts', schema: JSON.stringify(SCHEMA) } },
          },
        },
      }),
    )
    expect(anthropic.requests[0].body.output_config).toEqual({
      format: { type: 'json_schema', schema: SCHEMA },
    })
    expect(JSON.parse(res.output?.message?.content?.[0].text ?? '')).toEqual({
      city: 'Echo: Facts about Baku',
      population: 42,
    })
  })

  it('Anthropic output_config.format reaches Gemini as responseJsonSchema', async () => {
    const sdk = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
    const res = await sdk.messages.create({
      model: 'gemini/gemini-2.5-flash',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Facts about Doha' }],
      output_config: { format: { type: 'json_schema', schema: SCHEMA } },
    } as Anthropic.MessageCreateParamsNonStreaming)
    expect(gemini.requests[0].body.generationConfig.responseJsonSchema).toEqual(SCHEMA)
    const block = res.content[0]
    expect(block.type).toBe('text')
    expect(JSON.parse(block.type === 'text' ? block.text : '')).toEqual({
      city: 'Echo: Facts about Doha',
      population: 42,
    })
  })
})
