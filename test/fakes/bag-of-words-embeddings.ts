import { FakeServer, type FakeContext } from './server.js'

/**
 * An OpenAI-format embeddings endpoint (`POST /v1/embeddings`) whose vectors are bags of words:
 * each word adds 1 to a bucket chosen by its hash, so texts sharing most words are close in cosine
 * and unrelated texts are far apart. Deterministic, so that a test can say which texts match.
 */
export async function startFakeBagOfWordsEmbeddings(): Promise<FakeServer> {
  return new FakeServer(handle).start()
}

export function bagOfWords(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0)
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619)
    v[(h >>> 0) % dims] += 1
  }
  return v
}

function handle({ res, path, body }: FakeContext): void {
  if (!path.endsWith('/embeddings')) {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: `no route ${path}`, type: 'invalid_request_error' } }))
    return
  }
  const inputs: string[] = typeof body.input === 'string' ? [body.input] : body.input
  const dims: number = body.dimensions ?? 64
  const tokens = inputs.reduce((n, t) => n + (t.match(/\S+/g)?.length ?? 0), 0)
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(
    JSON.stringify({
      object: 'list',
      data: inputs.map((t, index) => ({ object: 'embedding', index, embedding: bagOfWords(t, dims) })),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }),
  )
}
