import { Button, Group, Paper, Select, Stack, Text, Textarea, Title } from '@mantine/core'
import { useState } from 'react'
import { errorText, post } from '../api'
import { ErrorNote } from '../components'
import { bindText } from '../form'

interface TestResult {
  matched: boolean
  rule?: { id: string; name: string }
  chain: { id: string; name: string }[]
  target: { provider: string; model: string; key_id: string | null } | null
  fallbacks: string[]
  without_rules: { provider: string; model: string } | null
}

/** `Name: value` lines into headers; blank lines are skipped. */
function headersOf(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const at = line.indexOf(':')
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim()
  }
  return out
}

/** Pastes a request and its headers, and shows which rule and target it would get; nothing is sent upstream. */
export function RuleTester({ keys }: { keys: { id: string; name: string }[] }) {
  const [body, setBody] = useState(
    '{\n  "model": "openai/gpt-4o-mini",\n  "messages": [{ "role": "user", "content": "Hello" }]\n}',
  )
  const [headers, setHeaders] = useState('')
  const [vk, setVk] = useState<string | null>(null)
  const [result, setResult] = useState<TestResult>()
  const [problem, setProblem] = useState<string>()
  const [busy, setBusy] = useState(false)
  const run = async () => {
    setProblem(undefined)
    let request: unknown
    try {
      request = JSON.parse(body)
    } catch {
      setProblem('The request is not valid JSON.')
      return
    }
    setBusy(true)
    try {
      setResult(
        await post<TestResult>('/api/routing/rules/test', {
          request,
          headers: headersOf(headers),
          virtual_key_id: vk,
        }),
      )
    } catch (err) {
      setResult(undefined)
      setProblem(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Paper withBorder p="md" radius="md" mt="xl" data-testid="rule-tester">
      <Title order={4} mb="xs">
        Try a request
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        Paste a request body and its headers: the rules say which of them matches and where the request goes.
        Nothing is sent to a provider.
      </Text>
      <Group grow align="flex-start">
        <Textarea
          label="Request body (JSON)"
          autosize
          minRows={5}
          styles={{ input: { fontFamily: 'monospace' } }}
          {...bindText(body, setBody)}
        />
        <Stack gap="xs">
          <Textarea
            label="Headers"
            description="One per line: x-tier: beta"
            autosize
            minRows={3}
            styles={{ input: { fontFamily: 'monospace' } }}
            {...bindText(headers, setHeaders)}
          />
          <Select
            label="As virtual key"
            placeholder="none"
            data={keys.map((k) => ({ value: k.id, label: k.name }))}
            value={vk}
            onChange={setVk}
            clearable
            searchable
          />
        </Stack>
      </Group>
      <Button mt="sm" onClick={() => void run()} loading={busy}>
        Test
      </Button>
      <ErrorNote error={problem} />
      {result && (
        <Paper withBorder p="sm" mt="sm" data-testid="rule-test-result">
          {result.matched ? (
            <Text size="sm">
              Rule <b>{result.rule?.name}</b>
              {result.chain.length > 1 && ` (chain: ${result.chain.map((c) => c.name).join(' → ')})`} sends it
              to <b>{result.target ? `${result.target.provider}/${result.target.model}` : '—'}</b>
              {result.target?.key_id && ` with key ${result.target.key_id}`}
              {result.fallbacks.length > 0 && `, then ${result.fallbacks.join(', ')}`}.
            </Text>
          ) : (
            <Text size="sm">
              No rule matches: it goes to{' '}
              <b>
                {result.target
                  ? `${result.target.provider}/${result.target.model}`
                  : 'nowhere it can be routed'}
              </b>
              .
            </Text>
          )}
          {result.matched && result.without_rules && (
            <Text size="xs" c="dimmed">
              Without rules: {result.without_rules.provider}/{result.without_rules.model}
            </Text>
          )}
        </Paper>
      )}
    </Paper>
  )
}
