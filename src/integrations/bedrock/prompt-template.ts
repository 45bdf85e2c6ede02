import type { ChatMessage } from '../../core/schemas/index.js'

const LLAMA3_TURN = /<\|start_header_id\|>(\w+)<\|end_header_id\|>\n*([\s\S]*?)(?:<\|eot_id\|>|$)/g
const INST_TURN = /\[INST\]([\s\S]*?)\[\/INST\]([\s\S]*?)(?=<s>|\[INST\]|$)/g
const LLAMA2_SYSTEM = /^\s*<<SYS>>([\s\S]*?)<<\/SYS>>/

function role(name: string): ChatMessage['role'] | undefined {
  const r = name.toLowerCase()
  if (r === 'system' || r === 'user' || r === 'assistant') return r
  if (r === 'ipython' || r === 'tool') return 'user'
  return undefined
}

/**
 * A raw prompt in the chat templates that Bedrock's text models take (Llama 3's header tokens,
 * `[INST] ... [/INST]` of Llama 2 and Mistral) as chat messages, so a chat model elsewhere gets
 * turns rather than template tokens. A prompt without a template is one user message.
 */
export function promptToMessages(prompt: string): ChatMessage[] {
  const out: ChatMessage[] = []
  if (prompt.includes('<|start_header_id|>')) {
    for (const m of prompt.matchAll(LLAMA3_TURN)) {
      const r = role(m[1])
      const text = m[2].trim()
      // The closing `assistant` header with nothing after it asks for the answer.
      if (r && text) out.push({ role: r, content: text })
    }
  } else if (prompt.includes('[INST]')) {
    for (const m of prompt.matchAll(INST_TURN)) {
      let user = m[1]
      const sys = LLAMA2_SYSTEM.exec(user)
      if (sys) {
        if (sys[1].trim()) out.push({ role: 'system', content: sys[1].trim() })
        user = user.slice(sys[0].length)
      }
      if (user.trim()) out.push({ role: 'user', content: user.trim() })
      const answer = m[2].replace(/<\/s>\s*$/, '').trim()
      if (answer) out.push({ role: 'assistant', content: answer })
    }
  }
  return out.some((m) => m.role === 'user') ? out : [{ role: 'user', content: prompt }]
}
