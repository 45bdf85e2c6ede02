import {
  Group,
  NumberInput,
  PasswordInput,
  Select,
  Switch,
  TagsInput,
  Text,
  TextInput,
  type TextInputProps,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useState } from 'react'
import { post, put } from '../api'
import { AddRowFooter, RemoveRowButton } from '../components'
import { EditDialog, type DialogProps } from '../list-page'
import { bindText, bindChecked, isHttpUrl, numberProblem, useSubmit, type Problems } from '../form'
import { catalogEntry, CUSTOM, CUSTOM_BASES, PROVIDERS, type Setup } from '../provider-catalog'
import {
  cloudBody,
  cloudDraft,
  CloudKeyFields,
  cloudProblems,
  isCloud,
  type CloudDraft,
} from './CloudKeyFields'

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
  custom_provider_config?: { base_provider_type: string; is_key_less?: boolean }
}

const KEY_HINT = 'The key itself, or env.VAR to read it from the environment'

/** The API key field: hidden while typed, with a button to show it. */
function KeyInput({
  label = 'API key',
  description = KEY_HINT,
  value,
  onChange,
  error,
  required,
}: {
  label?: string
  description?: string
  value: string
  onChange: (v: string) => void
  error?: string
  required?: boolean
}) {
  return (
    <PasswordInput
      label={label}
      description={description}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      name="key"
      error={error}
      required={required}
      autoComplete="off"
      visibilityToggleButtonProps={{ 'aria-label': 'Show or hide the key' }}
    />
  )
}

const PROVIDER_OPTIONS = [
  ...PROVIDERS.map((p) => ({ value: p.name, label: p.label })),
  { value: CUSTOM, label: 'Custom provider (an endpoint of your own)…' },
]

const baseUrlProblem = (url: string, required: boolean): string | undefined => {
  if (url.trim() === '')
    return required ? 'This provider needs a base URL, e.g. http://localhost:8000' : undefined
  return isHttpUrl(url.trim()) ? undefined : 'The base URL must start with https:// or http://'
}

/** Adds a provider with its first key: every built-in provider, its cloud settings, or a custom one. */
export function AddProvider({
  existing,
  ...dialog
}: {
  existing: string[]
} & DialogProps) {
  const [choice, setChoice] = useState<string | null>('openai')
  const [customName, setCustomName] = useState('')
  const [baseType, setBaseType] = useState<string | null>('openai')
  const [keyless, setKeyless] = useState(false)
  const [key, setKey] = useState('')
  const [baseUrl, setBaseUrl] = useState('')
  const [cloud, setCloud] = useState<CloudDraft>({})
  const custom = choice === CUSTOM
  const entry = custom ? undefined : catalogEntry(choice ?? '')
  const setup = entry?.setup ?? 'api_key'
  const noKey = custom ? keyless : (entry?.keyless ?? false)
  const name = custom ? customName.trim() : (choice ?? '')
  const validate = (): Problems => {
    const p: Problems = {}
    if (!choice) p.provider = 'Choose a provider'
    if (custom) {
      if (!name) p.provider_name = 'Name your provider, e.g. my-llm'
      else if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) p.provider_name = 'Use letters, digits, - and _ only'
      else if (PROVIDERS.some((e) => e.name === name))
        p.provider_name = `${name} is a built-in provider: pick it in the list`
    }
    if (name && existing.includes(name))
      p[custom ? 'provider_name' : 'provider'] = `${name} is set up already: add a key to it instead`
    const url = baseUrlProblem(baseUrl, custom || (entry?.needsBaseUrl ?? false))
    if (url) p.base_url = url
    if (isCloud(setup)) Object.assign(p, cloudProblems(setup, cloud, key.trim() !== ''))
    else if (!noKey && key.trim() === '') p.value = 'The API key is required (or env.VAR)'
    return p
  }
  const form = useSubmit(
    ['provider', 'value', 'keys', 'network_config', 'base_url', ...CLOUD_FIELDS],
    validate,
  )
  const save = async () => {
    await post('/api/providers', {
      provider: name,
      keys: [
        {
          name: 'default',
          value: key.trim(),
          models: ['*'],
          weight: 1,
          ...(isCloud(setup) && cloudBody(setup, cloud)),
        },
      ],
      ...(baseUrl.trim() && { network_config: { base_url: baseUrl.trim() } }),
      ...(custom && {
        custom_provider_config: { base_provider_type: baseType, ...(keyless && { is_key_less: true }) },
      }),
    })
    notifications.show({ color: 'green', message: `Provider ${name} added` })
  }
  return (
    <EditDialog {...dialog} form={form} save={save} title="Add provider" size="lg" submitLabel="Add">
      <Select
        label="Provider"
        data={PROVIDER_OPTIONS}
        value={choice}
        onChange={(v) => {
          setChoice(v)
          setCloud({})
        }}
        searchable
        nothingFoundMessage="No such provider: choose Custom provider for an endpoint of your own"
        description={entry?.hint}
        error={form.errorFor('provider')}
        allowDeselect={false}
      />
      {custom && (
        <>
          <TextInput
            label="Provider name"
            description="Callers write it before the model: my-llm/model-name"
            {...form.bindText('provider_name', customName, setCustomName)}
            required
          />
          <Select
            label="It speaks the API of"
            data={CUSTOM_BASES}
            value={baseType}
            onChange={setBaseType}
            allowDeselect={false}
          />
          <Switch label="It runs without an API key" {...bindChecked(keyless, setKeyless)} />
        </>
      )}
      {/* Vertex authenticates with its service account, below. */}
      {!noKey && setup !== 'vertex' && (
        <KeyInput
          label={setup === 'bedrock' ? 'Bedrock API key (optional with access keys)' : 'API key'}
          value={key}
          onChange={setKey}
          error={form.errorFor('value') ?? form.errorFor('keys')}
          required={!isCloud(setup)}
        />
      )}
      {isCloud(setup) && (
        <CloudKeyFields cloud={setup} value={cloud} onChange={setCloud} errorFor={form.errorFor} />
      )}
      {setup !== 'azure' && (
        <TextInput
          label={custom || entry?.needsBaseUrl ? 'Base URL' : 'Base URL (optional)'}
          placeholder={custom || entry?.needsBaseUrl ? 'http://localhost:8000' : "the provider's default"}
          {...bindText(baseUrl, setBaseUrl)}
          name="base_url"
          required={custom || entry?.needsBaseUrl}
          error={form.errorFor('base_url') ?? form.errorFor('network_config')}
        />
      )}
    </EditDialog>
  )
}

/** The fields of the cloud key configs, so that the server's blame lands beside them. */
const CLOUD_FIELDS = [
  'provider_name',
  'endpoint',
  'api_version',
  'deployments',
  'client_id',
  'client_secret',
  'tenant_id',
  'access_key',
  'secret_key',
  'session_token',
  'region',
  'arn',
  'project_id',
  'project_number',
  'auth_credentials',
]

/** Durations are integer milliseconds or Go-style text ("500ms", "2s"); a plain number is sent as milliseconds. */
const duration = (v: string) => (v === '' ? undefined : /^\d+$/.test(v) ? Number(v) : v)

export function NetworkEditor({
  provider,
  ...dialog
}: {
  provider: Provider
} & DialogProps) {
  const n = provider.network_config ?? {}
  const [baseUrl, setBaseUrl] = useState(n.base_url ?? '')
  const [timeout, setTimeoutS] = useState<number | string>(n.default_request_timeout_in_seconds ?? 30)
  const [retries, setRetries] = useState<number | string>(n.max_retries ?? 0)
  const [backoffInitial, setBackoffInitial] = useState(String(n.retry_backoff_initial ?? ''))
  const [backoffMax, setBackoffMax] = useState(String(n.retry_backoff_max ?? ''))
  const [headers, setHeaders] = useState(Object.entries(n.extra_headers ?? {}))
  const setHeader = (i: number, header: [string, string]) =>
    setHeaders(headers.map((h, j) => (j === i ? header : h)))
  const validate = (): Problems => {
    const p: Problems = {}
    const url = baseUrl.trim() === '' ? undefined : baseUrlProblem(baseUrl, false)
    if (url) p['network_config.base_url'] = url
    const t = numberProblem(timeout, { min: 1, whole: true, what: 'The timeout' })
    if (t) p['network_config.default_request_timeout_in_seconds'] = t
    const r = numberProblem(retries, { min: 0, whole: true, what: 'Retries' })
    if (r) p['network_config.max_retries'] = r
    for (const [f, v] of [
      ['retry_backoff_initial', backoffInitial],
      ['retry_backoff_max', backoffMax],
    ] as const) {
      if (v !== '' && !/^\d+(ms|s|m)?$/.test(v.trim()))
        p[`network_config.${f}`] = 'Write milliseconds, or 500ms / 2s'
    }
    if (headers.some(([k, v]) => k.trim() === '' && v !== ''))
      p['network_config.extra_headers'] = 'A header needs a name'
    return p
  }
  const form = useSubmit(
    [
      'network_config.base_url',
      'network_config.default_request_timeout_in_seconds',
      'network_config.max_retries',
      'network_config.retry_backoff_initial',
      'network_config.retry_backoff_max',
      'network_config.extra_headers',
    ],
    validate,
  )
  const save = async () => {
    const extra = Object.fromEntries(headers.filter(([k]) => k.trim() !== '').map(([k, v]) => [k.trim(), v]))
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
  }
  return (
    <EditDialog
      {...dialog}
      form={form}
      save={save}
      title={`Network settings: ${provider.name}`}
      size="lg"
      submitLabel="Save"
    >
      <TextInput
        label="Base URL"
        placeholder="the provider's default"
        {...form.bindText('network_config.base_url', baseUrl, setBaseUrl)}
      />
      <Group grow align="flex-start">
        <NumberInput
          label="Timeout (seconds)"
          {...form.bind('network_config.default_request_timeout_in_seconds', timeout, setTimeoutS)}
          clampBehavior="none"
        />
        <NumberInput
          label="Max retries"
          {...form.bind('network_config.max_retries', retries, setRetries)}
          clampBehavior="none"
        />
      </Group>
      <Group grow align="flex-start">
        <RetryWaitField
          label="First retry after"
          {...form.bindText('network_config.retry_backoff_initial', backoffInitial, setBackoffInitial)}
        />
        <RetryWaitField
          label="Longest wait between retries"
          {...form.bindText('network_config.retry_backoff_max', backoffMax, setBackoffMax)}
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
            {...bindText(k, (name) => setHeader(i, [name, v]))}
            style={{ flex: 1 }}
          />
          <TextInput
            aria-label="Header value"
            placeholder="value"
            {...bindText(v, (value) => setHeader(i, [k, value]))}
            style={{ flex: 1 }}
          />
          <RemoveRowButton
            label="Remove header"
            onClick={() => setHeaders(headers.filter((_, j) => j !== i))}
          />
        </Group>
      ))}
      <AddRowFooter
        error={form.errorFor('network_config.extra_headers')}
        label="Add header"
        onAdd={() => setHeaders([...headers, ['', '']])}
      />
    </EditDialog>
  )
}

/** A wait between retries: milliseconds, or a duration with its unit. */
function RetryWaitField(field: {
  label: string
  value: string
  onChange: TextInputProps['onChange']
  error?: string
}) {
  return <TextInput description="milliseconds, or 500ms / 2s" {...field} />
}

/** How a configured provider's keys are set up: its own, or for a custom one its base type's. */
export function setupOf(provider: Provider): Setup {
  const type = provider.custom_provider_config?.base_provider_type ?? provider.name
  return catalogEntry(type)?.setup ?? 'api_key'
}

/**
 * Adds a key (no `current`) or edits one. A stored secret comes back redacted; sending the
 * redacted text unchanged tells the server to keep the stored secret.
 */
export function KeyEditor({
  provider,
  current,
  ...dialog
}: {
  provider: Provider
  current?: ProviderKey
} & DialogProps) {
  const setup = setupOf(provider)
  const [name, setName] = useState(current?.name ?? '')
  const [value, setValue] = useState(current?.value ?? '')
  const [models, setModels] = useState(current?.models ?? ['*'])
  const [weight, setWeight] = useState<number | string>(current?.weight ?? 1)
  const [enabled, setEnabled] = useState(current?.enabled ?? true)
  const [cloud, setCloud] = useState<CloudDraft>(() =>
    isCloud(setup) ? cloudDraft(setup, current as Record<string, unknown> | undefined) : {},
  )
  const keyless = setup === 'self_hosted' || provider.custom_provider_config?.is_key_less === true
  const validate = (): Problems => {
    const p: Problems = {}
    if (name.trim() === '') p.name = 'Name the key, e.g. main'
    const w = numberProblem(weight, { min: 0, what: 'The weight' })
    if (w) p.weight = w
    if (isCloud(setup)) Object.assign(p, cloudProblems(setup, cloud, value.trim() !== ''))
    else if (!keyless && value.trim() === '') p.value = 'The key value is required (or env.VAR)'
    return p
  }
  const form = useSubmit(['name', 'value', 'models', 'weight', ...CLOUD_FIELDS], validate)
  const save = async () => {
    const body = {
      name: name.trim(),
      value: value.trim(),
      models,
      weight: weight === '' ? undefined : Number(weight),
      enabled,
      ...(isCloud(setup) && cloudBody(setup, cloud)),
    }
    if (current) await put(`/api/providers/${provider.name}/keys/${current.id}`, body)
    else await post(`/api/providers/${provider.name}/keys`, body)
    notifications.show({ color: 'green', message: current ? 'Key saved' : 'Key added' })
  }
  return (
    <EditDialog
      {...dialog}
      form={form}
      save={save}
      size={isCloud(setup) ? 'lg' : 'md'}
      title={current ? `Edit key ${current.name ?? current.id}` : `Add a key to ${provider.name}`}
      submitLabel={current ? 'Save key' : 'Add key'}
    >
      <TextInput label="Key name" {...form.bindText('name', name, setName)} required />
      {setup !== 'vertex' && (
        <KeyInput
          label={setup === 'bedrock' ? 'Bedrock API key (optional with access keys)' : 'Key value'}
          description={current ? `${KEY_HINT}. Leave the masked value to keep the stored secret.` : KEY_HINT}
          {...form.bind('value', value, setValue)}
          required={!isCloud(setup) && !keyless}
        />
      )}
      {isCloud(setup) && (
        <CloudKeyFields cloud={setup} value={cloud} onChange={setCloud} errorFor={form.errorFor} />
      )}
      <TagsInput label="Models" placeholder="* for all" {...form.bind('models', models, setModels)} />
      <Group grow align="flex-end">
        <NumberInput
          label="Weight"
          value={weight}
          onChange={setWeight}
          min={0}
          clampBehavior="none"
          error={form.errorFor('weight')}
        />
        <Switch label="Enabled" {...bindChecked(enabled, setEnabled)} mb={8} />
      </Group>
    </EditDialog>
  )
}
