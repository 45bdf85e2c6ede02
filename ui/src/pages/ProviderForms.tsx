import {
  ActionIcon,
  Button,
  Group,
  Modal,
  NumberInput,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { IconTrash } from '@tabler/icons-react'
import { useState } from 'react'
import { post, put } from '../api'
import { ErrorNote } from '../components'
import { useSubmit } from '../form'

export interface ProviderKey {
  id: string
  name?: string
  value?: string
  models?: string[]
  weight?: number
  enabled?: boolean
}
export interface NetworkConfig {
  base_url?: string
  default_request_timeout_in_seconds?: number
  max_retries?: number
  retry_backoff_initial?: number | string
  retry_backoff_max?: number | string
  extra_headers?: Record<string, string>
}
export interface Provider {
  name: string
  keys: ProviderKey[]
  network_config?: NetworkConfig
}

export const KNOWN_PROVIDERS = [
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

const KEY_HINT = 'The key itself, or env.VAR to read it from the environment'

export function AddProvider({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState<string | null>('openai')
  const [key, setKey] = useState('')
  const [baseUrl, setBaseUrl] = useState('')
  const form = useSubmit(['provider', 'value', 'keys', 'network_config'])
  const submit = () =>
    form.run(async () => {
      await post('/api/providers', {
        provider: name,
        keys: [{ name: 'default', value: key, models: ['*'], weight: 1 }],
        ...(baseUrl && { network_config: { base_url: baseUrl } }),
      })
      notifications.show({ color: 'green', message: `Provider ${name} added` })
      onDone()
      onClose()
    })
  return (
    <Modal opened onClose={onClose} title="Add provider">
      <Stack>
        <Select
          label="Provider"
          data={KNOWN_PROVIDERS}
          value={name}
          onChange={setName}
          searchable
          error={form.errorFor('provider')}
        />
        <TextInput
          label="API key"
          description={KEY_HINT}
          value={key}
          onChange={(e) => setKey(e.currentTarget.value)}
          name="key"
          error={form.errorFor('value') ?? form.errorFor('keys')}
        />
        <TextInput
          label="Base URL (optional)"
          placeholder="https://api.openai.com"
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.currentTarget.value)}
          name="base_url"
          error={form.errorFor('network_config')}
        />
        <ErrorNote error={form.general} />
        <Button onClick={submit} loading={form.busy}>
          Add
        </Button>
      </Stack>
    </Modal>
  )
}

/** Durations are integer milliseconds or Go-style text ("500ms", "2s"); a plain number is sent as milliseconds. */
const duration = (v: string) => (v === '' ? undefined : /^\d+$/.test(v) ? Number(v) : v)

export function NetworkEditor({
  provider,
  onClose,
  onDone,
}: {
  provider: Provider
  onClose: () => void
  onDone: () => void
}) {
  const n = provider.network_config ?? {}
  const [baseUrl, setBaseUrl] = useState(n.base_url ?? '')
  const [timeout, setTimeoutS] = useState<number | string>(n.default_request_timeout_in_seconds ?? 30)
  const [retries, setRetries] = useState<number | string>(n.max_retries ?? 0)
  const [backoffInitial, setBackoffInitial] = useState(String(n.retry_backoff_initial ?? ''))
  const [backoffMax, setBackoffMax] = useState(String(n.retry_backoff_max ?? ''))
  const [headers, setHeaders] = useState(Object.entries(n.extra_headers ?? {}))
  const form = useSubmit([
    'network_config.base_url',
    'network_config.default_request_timeout_in_seconds',
    'network_config.max_retries',
    'network_config.retry_backoff_initial',
    'network_config.retry_backoff_max',
    'network_config.extra_headers',
  ])
  const err = (f: string) => form.errorFor(`network_config.${f}`)
  const save = () =>
    form.run(async () => {
      const extra = Object.fromEntries(
        headers.filter(([k]) => k.trim() !== '').map(([k, v]) => [k.trim(), v]),
      )
      // PUT replaces the provider: the rest of its settings go back as they are (keys have their own routes).
      const { name: _name, keys: _keys, ...rest } = provider
      await put(`/api/providers/${provider.name}`, {
        ...rest,
        network_config: {
          ...n,
          base_url: baseUrl || undefined,
          default_request_timeout_in_seconds: timeout === '' ? undefined : Number(timeout),
          max_retries: retries === '' ? undefined : Number(retries),
          retry_backoff_initial: duration(backoffInitial),
          retry_backoff_max: duration(backoffMax),
          extra_headers: Object.keys(extra).length ? extra : undefined,
        },
      })
      notifications.show({ color: 'green', message: `Network settings of ${provider.name} saved` })
      onDone()
      onClose()
    })
  return (
    <Modal opened onClose={onClose} title={`Network settings: ${provider.name}`} size="lg">
      <Stack>
        <TextInput
          label="Base URL"
          placeholder="the provider's default"
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.currentTarget.value)}
          error={err('base_url')}
        />
        <Group grow align="flex-start">
          <NumberInput
            label="Timeout (seconds)"
            value={timeout}
            onChange={setTimeoutS}
            error={err('default_request_timeout_in_seconds')}
          />
          <NumberInput label="Max retries" value={retries} onChange={setRetries} error={err('max_retries')} />
        </Group>
        <Group grow align="flex-start">
          <TextInput
            label="First retry after"
            description="milliseconds, or 500ms / 2s"
            value={backoffInitial}
            onChange={(e) => setBackoffInitial(e.currentTarget.value)}
            error={err('retry_backoff_initial')}
          />
          <TextInput
            label="Longest wait between retries"
            description="milliseconds, or 500ms / 2s"
            value={backoffMax}
            onChange={(e) => setBackoffMax(e.currentTarget.value)}
            error={err('retry_backoff_max')}
          />
        </Group>
        <Text size="sm" fw={500}>
          Extra headers sent upstream
        </Text>
        {headers.map(([k, v], i) => (
          <Group key={i} wrap="nowrap" align="flex-end">
            <TextInput
              aria-label="Header name"
              placeholder="X-Header"
              value={k}
              onChange={(e) => {
                const name = e.currentTarget.value
                setHeaders(headers.map((h, j) => (j === i ? [name, h[1]] : h)))
              }}
              style={{ flex: 1 }}
            />
            <TextInput
              aria-label="Header value"
              placeholder="value"
              value={v}
              onChange={(e) => {
                const value = e.currentTarget.value
                setHeaders(headers.map((h, j) => (j === i ? [h[0], value] : h)))
              }}
              style={{ flex: 1 }}
            />
            <ActionIcon
              variant="subtle"
              color="red"
              size="lg"
              aria-label="Remove header"
              onClick={() => setHeaders(headers.filter((_, j) => j !== i))}
            >
              <IconTrash size={16} />
            </ActionIcon>
          </Group>
        ))}
        {err('extra_headers') && (
          <Text size="sm" c="red">
            {err('extra_headers')}
          </Text>
        )}
        <Button
          size="compact-sm"
          variant="light"
          w="fit-content"
          onClick={() => setHeaders([...headers, ['', '']])}
        >
          Add header
        </Button>
        <ErrorNote error={form.general} />
        <Button onClick={save} loading={form.busy}>
          Save
        </Button>
      </Stack>
    </Modal>
  )
}

/**
 * Adds a key (no `current`) or edits one. A stored secret comes back redacted; sending the
 * redacted text unchanged tells the server to keep the stored secret.
 */
export function KeyEditor({
  provider,
  current,
  onClose,
  onDone,
}: {
  provider: string
  current?: ProviderKey
  onClose: () => void
  onDone: () => void
}) {
  const [name, setName] = useState(current?.name ?? '')
  const [value, setValue] = useState(current?.value ?? '')
  const [models, setModels] = useState(current?.models ?? ['*'])
  const [weight, setWeight] = useState<number | string>(current?.weight ?? 1)
  const [enabled, setEnabled] = useState(current?.enabled ?? true)
  const form = useSubmit(['name', 'value', 'models', 'weight'])
  const save = () =>
    form.run(async () => {
      const body = { name, value, models, weight: weight === '' ? undefined : Number(weight), enabled }
      if (current) await put(`/api/providers/${provider}/keys/${current.id}`, body)
      else await post(`/api/providers/${provider}/keys`, body)
      notifications.show({ color: 'green', message: current ? 'Key saved' : 'Key added' })
      onDone()
      onClose()
    })
  return (
    <Modal
      opened
      onClose={onClose}
      title={current ? `Edit key ${current.name ?? current.id}` : `Add a key to ${provider}`}
    >
      <Stack>
        <TextInput
          label="Key name"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={form.errorFor('name')}
        />
        <TextInput
          label="Key value"
          description={current ? `${KEY_HINT}. Leave the masked value to keep the stored secret.` : KEY_HINT}
          value={value}
          onChange={(e) => setValue(e.currentTarget.value)}
          error={form.errorFor('value')}
          ff="monospace"
        />
        <TagsInput
          label="Models"
          placeholder="* for all"
          value={models}
          onChange={setModels}
          error={form.errorFor('models')}
        />
        <Group grow align="flex-end">
          <NumberInput
            label="Weight"
            value={weight}
            onChange={setWeight}
            min={0}
            error={form.errorFor('weight')}
          />
          <Switch
            label="Enabled"
            checked={enabled}
            onChange={(e) => setEnabled(e.currentTarget.checked)}
            mb={8}
          />
        </Group>
        <ErrorNote error={form.general} />
        <Button onClick={save} loading={form.busy}>
          {current ? 'Save key' : 'Add key'}
        </Button>
      </Stack>
    </Modal>
  )
}
