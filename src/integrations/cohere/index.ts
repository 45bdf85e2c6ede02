export {
  cohereThinkingToEffort,
  parseCohereChat,
  parseCohereEmbed,
  parseCohereRerank,
  parseCohereTokenize,
} from './parse.js'
export {
  toCohereChatResponse,
  toCohereEmbedResponse,
  toCohereError,
  toCohereRerankResponse,
} from './serialize.js'
export { CohereStreamWriter, sseFrame } from './stream.js'
export { standInCallSignatures } from '../signature-origin.js'
