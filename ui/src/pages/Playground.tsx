import {
  Badge,
  Button,
  Grid,
  Group,
  Paper,
  PasswordInput,
  Select,
  Stack,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core'
import { useState } from 'react'
import { api, errorText } from '../api'
import { ErrorNote, PageHeader } from '../components'

const ROUTES = [
  { value: '/v1/chat/completions', label: 'Heimdall /v1/chat/completions' },
  { value: '/openai/v1/chat/completions', label: 'OpenAI drop-in /openai/v1/chat/completions' },
  { value: '/litellm/v1/chat/completions', label: 'LiteLLM /litellm/v1/chat/completions' },
  { value: '/langchain/v1/chat/completions', label: 'LangChain /langchain/v1/chat/completions' },
]

interface Turn {
  ok: boolean
  text: string
  ms: number
  tokens?: number
}

export function PlaygroundPage() {
  const [route, setRoute] = useState<string | null>(ROUTES[0].value)
  const [model, setModel] = useState('openai/gpt-4o-mini')
  const [vk, setVk] = useState('')
  const [prompt, setPrompt] = useState('Say hello in one short sentence.')
  const [turns, setTurns] = useState<Turn[]>([])
  const [busy, setBusy] = useState(false)
  const send = async () => {
    setBusy(true)
    const start = performance.now()
    try {
      const res = await api<{
        choices: { message: { content: string } }[]
        usage?: { total_tokens?: number }
      }>(
        'POST',
        route ?? ROUTES[0].value,
        { model, messages: [{ role: 'user', content: prompt }] },
        vk ? { authorization: `Bearer ${vk}`, 'x-bf-vk': vk } : {},
      )
      setTurns((t) => [
        {
          ok: true,
          text: res.choices?.[0]?.message?.content ?? '',
          ms: performance.now() - start,
          tokens: res.usage?.total_tokens,
        },
        ...t,
      ])
    } catch (err) {
      setTurns((t) => [{ ok: false, text: errorText(err), ms: performance.now() - start }, ...t])
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <PageHeader
        title="Playground"
        description="Send a chat request through any route. It is governed, logged and billed like any other request."
      />
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Paper withBorder p="md">
            <Stack>
              <Select label="Route" data={ROUTES} value={route} onChange={setRoute} />
              <TextInput
                label="Model"
                name="model"
                value={model}
                onChange={(e) => setModel(e.currentTarget.value)}
              />
              <PasswordInput
                label="Virtual key"
                name="virtual-key"
                description="Optional: the request is governed by this key"
                value={vk}
                onChange={(e) => setVk(e.currentTarget.value)}
              />
              <Textarea
                label="Message"
                name="prompt"
                autosize
                minRows={3}
                value={prompt}
                onChange={(e) => setPrompt(e.currentTarget.value)}
              />
              <Button onClick={send} loading={busy}>
                Send
              </Button>
            </Stack>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack data-testid="playground-results">
            {turns.length === 0 && (
              <Text c="dimmed" size="sm">
                Answers appear here. Pick a model as provider/model, for example openai/gpt-4o-mini.
              </Text>
            )}
            {turns.map((t, i) =>
              t.ok ? (
                <Paper withBorder p="md" key={turns.length - i} data-testid="playground-answer">
                  <Group justify="space-between" mb={4}>
                    <Badge color="green">200</Badge>
                    <Text size="xs" c="dimmed">
                      {Math.round(t.ms)} ms{t.tokens !== undefined && ` · ${t.tokens} tokens`}
                    </Text>
                  </Group>
                  <Text>{t.text}</Text>
                </Paper>
              ) : (
                <div key={turns.length - i} data-testid="playground-error">
                  <ErrorNote error={t.text} />
                </div>
              ),
            )}
          </Stack>
        </Grid.Col>
      </Grid>
    </>
  )
}
