import {
  Autocomplete,
  Badge,
  Button,
  Grid,
  Group,
  NumberInput,
  Paper,
  PasswordInput,
  Select,
  Stack,
  Switch,
  Text,
  Textarea,
} from '@mantine/core'
import { useEffect, useRef, useState } from 'react'
import { Link } from 'react-router-dom'
import { ApiError, get, errorText } from '../api'
import { ErrorNote, PageHeader } from '../components'
import { formatMoney, formatMs, formatNumber } from '../format'
import { keyHeaders, rememberSessionKey, sessionKey } from '../session-key'
import { sendChat, type ChatMessage, type ChatOutcome } from './chat-stream'
import { bindText, bindChecked } from '../form'

/** The chat routes a request may take, each shown with the path it posts to. */
const ROUTES = (
  [
    ['Heimdall', '/v1/chat/completions'],
    ['OpenAI drop-in', '/openai/v1/chat/completions'],
    ['LiteLLM', '/litellm/v1/chat/completions'],
    ['LangChain', '/langchain/v1/chat/completions'],
  ] as const
).map(([who, path]) => ({ value: path, label: `${who} ${path}` }))

interface Turn {
  id: number
  prompt: string
  answer: string
  pending: boolean
  error?: string
  status?: number
  outcome?: ChatOutcome
  cost?: number | null
  logged?: boolean
}

/** The answer's log entry, once the gateway has written it (it does so just after answering). */
async function loggedCost(id: string): Promise<{ cost?: number | null } | undefined> {
  for (let i = 0; i < 15; i++) {
    try {
      // A search, not GET /api/logs/{id}: an entry not written yet is an empty list, not a 404.
      const found = await get<{ logs: { cost?: number }[] }>(
        `/api/logs?request_id=${encodeURIComponent(id)}&limit=1`,
      )
      if (found.logs.length) return { cost: found.logs[0].cost ?? null }
    } catch {
      return undefined
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return undefined
}

export function PlaygroundPage() {
  const [route, setRoute] = useState<string | null>(ROUTES[0].value)
  const [model, setModel] = useState('openai/gpt-4o-mini')
  const [models, setModels] = useState<string[]>([])
  const [vk, setVk] = useState(sessionKey)
  const [system, setSystem] = useState('')
  const [temperature, setTemperature] = useState<number | string>('')
  const [maxTokens, setMaxTokens] = useState<number | string>('')
  const [stream, setStream] = useState(true)
  const [prompt, setPrompt] = useState('Say hello in one short sentence.')
  const [turns, setTurns] = useState<Turn[]>([])
  const busy = turns.some((t) => t.pending)
  const abort = useRef<AbortController>()
  const nextId = useRef(1)

  useEffect(() => rememberSessionKey(vk.trim()), [vk])
  useEffect(() => {
    // The models the key (or, without one, the gateway) can reach.
    const timer = setTimeout(() => {
      fetch('/v1/models', { headers: keyHeaders(vk.trim()), credentials: 'same-origin' })
        .then((r) => (r.ok ? (r.json() as Promise<{ data?: { id: string }[] }>) : { data: [] }))
        .then((list) => setModels([...new Set((list.data ?? []).map((m) => m.id))].sort()))
        .catch(() => setModels([]))
    }, 300)
    return () => clearTimeout(timer)
  }, [vk])
  useEffect(() => () => abort.current?.abort(), [])

  const patch = (id: number, change: Partial<Turn>) =>
    setTurns((all) => all.map((t) => (t.id === id ? { ...t, ...change } : t)))

  const send = async () => {
    const id = nextId.current++
    // Multi-turn: the exchanges that were answered, then the new message.
    const history: ChatMessage[] = [
      ...(system.trim() ? [{ role: 'system' as const, content: system }] : []),
      ...turns
        .filter((t) => !t.error && !t.pending)
        .flatMap((t) => [
          { role: 'user' as const, content: t.prompt },
          { role: 'assistant' as const, content: t.answer },
        ]),
      { role: 'user', content: prompt },
    ]
    setTurns((all) => [...all, { id, prompt, answer: '', pending: true }])
    abort.current = new AbortController()
    try {
      const outcome = await sendChat(
        {
          route: route ?? ROUTES[0].value,
          model,
          messages: history,
          stream,
          temperature: typeof temperature === 'number' ? temperature : undefined,
          max_tokens: typeof maxTokens === 'number' ? maxTokens : undefined,
          virtualKey: vk.trim() || undefined,
        },
        (text) => patch(id, { answer: text }),
        abort.current.signal,
      )
      patch(id, { pending: false, answer: outcome.text, outcome, status: outcome.status })
      if (outcome.requestId) {
        const logged = await loggedCost(outcome.requestId)
        patch(id, { logged: !!logged, cost: logged?.cost })
      }
    } catch (err) {
      patch(id, {
        pending: false,
        error: errorText(err),
        status: err instanceof ApiError ? err.status : undefined,
      })
    }
  }

  return (
    <>
      <PageHeader
        title="Playground"
        description="Chat through any route. Requests are governed, logged and billed like any other."
        actions={
          <Button variant="default" onClick={() => setTurns([])} disabled={busy || turns.length === 0}>
            New chat
          </Button>
        }
      />
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Paper withBorder p="md">
            <Stack gap="sm">
              <Select label="Route" data={ROUTES} value={route} onChange={setRoute} allowDeselect={false} />
              <Autocomplete
                label="Model"
                name="model"
                description="provider/model; the list shows what the gateway serves"
                data={models}
                value={model}
                onChange={setModel}
                limit={50}
                maxDropdownHeight={280}
              />
              <PasswordInput
                label="Virtual key"
                name="virtual-key"
                description="Optional: the request is governed by this key. Remembered until this tab closes."
                {...bindText(vk, setVk)}
              />
              <Textarea
                label="System prompt"
                name="system"
                autosize
                minRows={1}
                maxRows={6}
                {...bindText(system, setSystem)}
              />
              <Group grow>
                <NumberInput
                  label="Temperature"
                  name="temperature"
                  placeholder="model default"
                  min={0}
                  max={2}
                  step={0.1}
                  decimalScale={2}
                  value={temperature}
                  onChange={setTemperature}
                />
                <NumberInput
                  label="Max tokens"
                  name="max-tokens"
                  placeholder="model default"
                  min={1}
                  allowDecimal={false}
                  thousandSeparator=","
                  value={maxTokens}
                  onChange={setMaxTokens}
                />
              </Group>
              <Switch label="Stream the answer" {...bindChecked(stream, setStream)} />
              <Textarea
                label="Message"
                name="prompt"
                autosize
                minRows={3}
                {...bindText(prompt, setPrompt)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && (e.metaKey || e.ctrlKey) && !busy && prompt.trim()) void send()
                }}
              />
              <Group justify="space-between">
                <Text size="xs" c="dimmed">
                  Ctrl+Enter sends
                </Text>
                <Group gap="xs">
                  {busy && (
                    <Button variant="default" onClick={() => abort.current?.abort()}>
                      Stop
                    </Button>
                  )}
                  <Button onClick={send} loading={busy} disabled={!prompt.trim() || !model.trim()}>
                    Send
                  </Button>
                </Group>
              </Group>
            </Stack>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack data-testid="playground-results" aria-live="polite">
            {turns.length === 0 && (
              <Text c="dimmed" size="sm">
                The conversation appears here: each answer with its status, latency, tokens, cost and log
                entry.
              </Text>
            )}
            {turns.map((t) => (
              <TurnView key={t.id} turn={t} />
            ))}
          </Stack>
        </Grid.Col>
      </Grid>
    </>
  )
}

function TurnView({ turn: t }: { turn: Turn }) {
  const o = t.outcome
  return (
    <Stack gap={6}>
      <Paper p="sm" radius="md" bg="var(--mantine-color-default-hover)" ml="xl" data-testid="chat-user">
        <Text size="sm" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {t.prompt}
        </Text>
      </Paper>
      {t.error ? (
        <div data-testid="playground-error">
          <ErrorNote error={`${t.status ? `${t.status}: ` : ''}${t.error}`} />
        </div>
      ) : (
        <Paper withBorder p="md" mr="xl" data-testid="playground-answer" aria-busy={t.pending}>
          <Group justify="space-between" mb={4} gap="xs">
            <Badge color={t.pending ? 'gray' : 'green'}>{t.pending ? 'answering…' : (t.status ?? 200)}</Badge>
            {o && (
              <Text size="xs" c="dimmed" data-testid="answer-stats">
                {formatMs(o.totalMs)}
                {o.firstTokenMs < o.totalMs && ` (first token ${formatMs(o.firstTokenMs)})`}
                {o.tokens && ` · ${formatNumber(o.tokens.total)} tokens`}
                {t.cost !== undefined && ` · ${formatMoney(t.cost)}`}
              </Text>
            )}
          </Group>
          <Text style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }} data-testid="answer-text">
            {t.answer}
          </Text>
          {o?.requestId && t.logged && (
            <Button
              component={Link}
              to={`/logs?entry=${encodeURIComponent(o.requestId)}`}
              variant="default"
              size="compact-xs"
              mt="xs"
            >
              Open its log entry
            </Button>
          )}
        </Paper>
      )}
    </Stack>
  )
}
