import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  NumberInput,
  Select,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useState } from 'react'
import { api, del, errorText, post, put } from '../api'
import { Empty, ErrorNote, PageHeader } from '../components'
import { useApi } from '../hooks'

interface ProviderKey {
  id: string
  name?: string
  value?: string
  models?: string[]
}
interface Provider {
  name: string
  keys: ProviderKey[]
  network_config?: { base_url?: string; default_request_timeout_in_seconds?: number; max_retries?: number }
}

const KNOWN = [
  'openai',
  'anthropic',
  'gemini',
  'vertex',
  'bedrock',
  'azure',
  'cohere',
  'mistral',
  'groq',
  'ollama',
  'openrouter',
]

export function ProvidersPage() {
  const { data, error, reload } = useApi<{ providers: Provider[] }>('/api/providers')
  const [adding, setAdding] = useState(false)
  const [editing, setEditing] = useState<Provider>()
  const providers = data?.providers ?? []
  return (
    <>
      <PageHeader
        title="Providers & keys"
        description="Upstream providers, their API keys and network settings."
        actions={<Button onClick={() => setAdding(true)}>Add provider</Button>}
      />
      <ErrorNote error={error} />
      {data && providers.length === 0 && (
        <Empty title="No provider yet" hint="Add a provider and its API key to start sending requests." />
      )}
      <SimpleGrid cols={{ base: 1, md: 2, xl: 3 }}>
        {providers.map((p) => (
          <ProviderCard key={p.name} provider={p} onEdit={() => setEditing(p)} onChange={reload} />
        ))}
      </SimpleGrid>
      <AddProvider opened={adding} onClose={() => setAdding(false)} onDone={reload} />
      {editing && <NetworkEditor provider={editing} onClose={() => setEditing(undefined)} onDone={reload} />}
    </>
  )
}

function ProviderCard({
  provider,
  onEdit,
  onChange,
}: {
  provider: Provider
  onEdit: () => void
  onChange: () => void
}) {
  const [testing, setTesting] = useState(false)
  const [health, setHealth] = useState<{ ok: boolean; text: string }>()
  const test = async () => {
    setTesting(true)
    try {
      const res = await api<{ choices?: { message?: { content?: string } }[] }>(
        'POST',
        '/v1/chat/completions',
        {
          model: `${provider.name}/${provider.keys[0]?.models?.find((m) => m !== '*') ?? 'gpt-4o-mini'}`,
          messages: [{ role: 'user', content: 'ping' }],
          max_tokens: 5,
        },
      )
      setHealth({ ok: true, text: `Answered: ${res.choices?.[0]?.message?.content ?? 'ok'}` })
    } catch (err) {
      setHealth({ ok: false, text: errorText(err) })
    } finally {
      setTesting(false)
    }
  }
  const remove = async () => {
    try {
      await del(`/api/providers/${provider.name}`)
      onChange()
    } catch (err) {
      notifications.show({ color: 'red', title: 'Could not delete', message: errorText(err) })
    }
  }
  return (
    <Card withBorder radius="md" padding="lg" data-testid={`provider-${provider.name}`}>
      <Group justify="space-between">
        <Text fw={600} size="lg">
          {provider.name}
        </Text>
        {health ? (
          <Badge color={health.ok ? 'green' : 'red'}>{health.ok ? 'healthy' : 'failing'}</Badge>
        ) : (
          <Badge variant="light" color="gray">
            untested
          </Badge>
        )}
      </Group>
      <Text size="sm" c="dimmed" mt={4}>
        {provider.network_config?.base_url || 'default endpoint'}
      </Text>
      <Stack gap={4} mt="sm">
        {provider.keys.map((k) => (
          <Group key={k.id} gap="xs">
            <Badge variant="outline">{k.name || k.id}</Badge>
            <Text size="xs" ff="monospace" c="dimmed">
              {k.value}
            </Text>
          </Group>
        ))}
        {provider.keys.length === 0 && (
          <Text size="sm" c="dimmed">
            No key yet.
          </Text>
        )}
      </Stack>
      {health && (
        <Text size="sm" c={health.ok ? 'green' : 'red'} mt="sm">
          {health.text}
        </Text>
      )}
      <Group mt="md" gap="xs">
        <Button size="xs" variant="light" onClick={test} loading={testing}>
          Test
        </Button>
        <Button size="xs" variant="default" onClick={onEdit}>
          Network
        </Button>
        <Button size="xs" variant="subtle" color="red" onClick={remove}>
          Delete
        </Button>
      </Group>
    </Card>
  )
}

function AddProvider({
  opened,
  onClose,
  onDone,
}: {
  opened: boolean
  onClose: () => void
  onDone: () => void
}) {
  const [name, setName] = useState<string | null>('openai')
  const [key, setKey] = useState('')
  const [baseUrl, setBaseUrl] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async () => {
    setBusy(true)
    setError(undefined)
    try {
      await post('/api/providers', {
        provider: name,
        keys: [{ name: 'default', value: key, models: ['*'], weight: 1 }],
        ...(baseUrl && { network_config: { base_url: baseUrl } }),
      })
      notifications.show({ color: 'green', message: `Provider ${name} added` })
      onDone()
      onClose()
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Modal opened={opened} onClose={onClose} title="Add provider">
      <Stack>
        <Select label="Provider" data={KNOWN} value={name} onChange={setName} searchable />
        <TextInput
          label="API key"
          description="The key itself, or env.VAR to read it from the environment"
          value={key}
          onChange={(e) => setKey(e.currentTarget.value)}
          name="key"
        />
        <TextInput
          label="Base URL (optional)"
          placeholder="https://api.openai.com"
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.currentTarget.value)}
          name="base_url"
        />
        <ErrorNote error={error} />
        <Button onClick={submit} loading={busy}>
          Add
        </Button>
      </Stack>
    </Modal>
  )
}

function NetworkEditor({
  provider,
  onClose,
  onDone,
}: {
  provider: Provider
  onClose: () => void
  onDone: () => void
}) {
  const [baseUrl, setBaseUrl] = useState(provider.network_config?.base_url ?? '')
  const [timeout, setTimeoutS] = useState<number | string>(
    provider.network_config?.default_request_timeout_in_seconds ?? 30,
  )
  const [retries, setRetries] = useState<number | string>(provider.network_config?.max_retries ?? 0)
  const [error, setError] = useState<string>()
  const save = async () => {
    try {
      await put(`/api/providers/${provider.name}`, {
        network_config: {
          ...provider.network_config,
          base_url: baseUrl || undefined,
          default_request_timeout_in_seconds: Number(timeout),
          max_retries: Number(retries),
        },
      })
      onDone()
      onClose()
    } catch (err) {
      setError(errorText(err))
    }
  }
  return (
    <Modal opened onClose={onClose} title={`Network settings: ${provider.name}`}>
      <Stack>
        <TextInput label="Base URL" value={baseUrl} onChange={(e) => setBaseUrl(e.currentTarget.value)} />
        <NumberInput label="Timeout (seconds)" value={timeout} onChange={setTimeoutS} min={1} />
        <NumberInput label="Max retries" value={retries} onChange={setRetries} min={0} />
        <ErrorNote error={error} />
        <Button onClick={save}>Save</Button>
      </Stack>
    </Modal>
  )
}
