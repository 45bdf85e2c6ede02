import {
  Badge,
  Button,
  Group,
  NumberInput,
  Paper,
  PasswordInput,
  Select,
  SimpleGrid,
  Stack,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core'
import { useEffect, useState, type ReactNode } from 'react'
import { Link, useParams } from 'react-router-dom'
import { errorText, put } from '../api'
import { ErrorNote, Loading, PageHeader } from '../components'
import { bindText, numberProblem, useSubmit, type Problems } from '../form'
import { formatNumber } from '../format'
import { useApi } from '../hooks'

interface ProviderKey {
  id: string
  name: string
  models: string[]
  blacklisted_models?: string[]
  aliases?: Record<string, string | { model_id: string }>
  [field: string]: unknown
}
interface Provider {
  name: string
  keys: ProviderKey[]
  concurrency_and_buffer_size?: { concurrency: number; buffer_size: number }
  proxy_config?: {
    type?: string
    url?: string
    username?: string
    password?: string
    no_proxy?: string
  } | null
  [field: string]: unknown
}

const PROXY_TYPES = [
  { value: 'none', label: 'None (the global proxy, if any)' },
  { value: 'http', label: 'HTTP(S) proxy' },
  { value: 'socks5', label: 'SOCKS5 proxy' },
  { value: 'environment', label: 'From HTTP(S)_PROXY in the environment' },
]

/** The provider as stored, less its keys (which the PUT keeps when they are left out). */
const withoutKeys = ({ keys: _keys, ...rest }: Provider) => rest

/**
 * A provider's less common settings: queue sizes, its own proxy, each key's blocked models and
 * aliases, and the models the provider itself lists.
 */
export function ProviderAdvancedPage() {
  const { name = '' } = useParams()
  const path = `/api/providers/${encodeURIComponent(name)}`
  const { data: provider, error, loading, reload } = useApi<Provider>(path)
  return (
    <>
      <PageHeader
        title={`${name}: advanced settings`}
        description="Queue sizes, a proxy of its own, blocked models and aliases per key, and the models it serves."
        actions={
          <Button component={Link} to="/providers" variant="default">
            Back to providers
          </Button>
        }
      />
      <ErrorNote error={error} />
      {loading && !provider && <Loading what="the provider" />}
      {provider && (
        <Stack>
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Concurrency provider={provider} path={path} onDone={reload} />
            <Proxy provider={provider} path={path} onDone={reload} />
          </SimpleGrid>
          <Title order={3} size="h4" mt="md">
            Keys
          </Title>
          {provider.keys.length === 0 && (
            <Text size="sm" c="dimmed">
              No key yet.
            </Text>
          )}
          {provider.keys.map((k) => (
            <KeyModels key={k.id} provider={name} k={k} onDone={reload} />
          ))}
          <Discovery provider={name} />
        </Stack>
      )}
    </>
  )
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h5" mb="sm">
        {title}
      </Title>
      {children}
    </Paper>
  )
}

/** A section's form: Enter submits it (`save`, then `onSaved`); a saved change is confirmed in place. */
function SectionForm({
  form,
  save,
  onSaved,
  children,
}: {
  form: ReturnType<typeof useSubmit>
  save: () => Promise<unknown>
  onSaved: () => void
  children: ReactNode
}) {
  const [saved, setSaved] = useState(false)
  return (
    <form
      noValidate
      onSubmit={(e) => {
        e.preventDefault()
        void form.run(async () => {
          setSaved(false)
          await save()
          setSaved(true)
          onSaved()
        })
      }}
    >
      <Stack gap="sm">
        {children}
        <ErrorNote error={form.summary ?? form.general} />
        <Group>
          <Button type="submit" loading={form.busy}>
            Save
          </Button>
          {saved && (
            <Text size="sm" c="teal" role="status">
              Saved
            </Text>
          )}
        </Group>
      </Stack>
    </form>
  )
}

function Concurrency({ provider, path, onDone }: { provider: Provider; path: string; onDone: () => void }) {
  const [concurrency, setConcurrency] = useState<number | string>(
    provider.concurrency_and_buffer_size?.concurrency ?? '',
  )
  const [buffer, setBuffer] = useState<number | string>(
    provider.concurrency_and_buffer_size?.buffer_size ?? '',
  )
  const form = useSubmit(['concurrency_and_buffer_size'], () => {
    const p: Record<string, string> = {}
    const c = numberProblem(concurrency, { min: 1, whole: true, what: 'Concurrency' })
    const b = numberProblem(buffer, { min: 1, whole: true, what: 'Buffer size' })
    if (c) p.concurrency = c
    if (b) p.buffer_size = b
    return p
  })
  const save = () =>
    put(path, {
      ...withoutKeys(provider),
      concurrency_and_buffer_size: {
        ...(concurrency !== '' && { concurrency: Number(concurrency) }),
        ...(buffer !== '' && { buffer_size: Number(buffer) }),
      },
    })
  return (
    <Section title="Concurrency and queue">
      <SectionForm form={form} save={save} onSaved={onDone}>
        <NumberInput
          label="Concurrent requests"
          description="Requests sent to this provider at once"
          value={concurrency}
          onChange={setConcurrency}
          thousandSeparator=","
          allowDecimal={false}
          error={form.errorFor('concurrency')}
          name="concurrency"
        />
        <NumberInput
          label="Queue size"
          description="Requests waiting for a free slot before the gateway refuses more"
          value={buffer}
          onChange={setBuffer}
          thousandSeparator=","
          allowDecimal={false}
          error={form.errorFor('buffer_size')}
          name="buffer-size"
        />
      </SectionForm>
    </Section>
  )
}

function Proxy({ provider, path, onDone }: { provider: Provider; path: string; onDone: () => void }) {
  const p = provider.proxy_config ?? {}
  const [type, setType] = useState(p.type ?? 'none')
  const [url, setUrl] = useState(p.url ?? '')
  const [username, setUsername] = useState(p.username ?? '')
  const [password, setPassword] = useState(p.password ?? '')
  const [noProxy, setNoProxy] = useState(p.no_proxy ?? '')
  const needsUrl = type === 'http' || type === 'socks5'
  const form = useSubmit(['proxy_config'], (): Problems => {
    if (!needsUrl) return {}
    if (!url.trim()) return { url: 'Enter the proxy URL' }
    try {
      new URL(url)
      return {}
    } catch {
      return { url: 'Not a URL: write it as http://host:port or socks5://host:port' }
    }
  })
  const save = () =>
    put(path, {
      ...withoutKeys(provider),
      proxy_config: needsUrl
        ? {
            type,
            url,
            ...(username && { username }),
            ...(password && { password }),
            ...(noProxy && { no_proxy: noProxy }),
          }
        : { type },
    })
  return (
    <Section title="Proxy">
      <SectionForm form={form} save={save} onSaved={onDone}>
        <Select
          label="Proxy"
          data={PROXY_TYPES}
          value={type}
          onChange={(v) => setType(v ?? 'none')}
          allowDeselect={false}
        />
        {needsUrl && (
          <>
            <TextInput label="URL" {...form.bindText('url', url, setUrl)} name="proxy-url" />
            <Group grow>
              <TextInput label="Username" {...bindText(username, setUsername)} name="proxy-username" />
              <PasswordInput label="Password" {...bindText(password, setPassword)} name="proxy-password" />
            </Group>
            <TextInput
              label="Reached directly"
              description="Hosts that skip the proxy: comma-separated names or .suffixes"
              {...bindText(noProxy, setNoProxy)}
            />
          </>
        )}
      </SectionForm>
    </Section>
  )
}

/** `alias = model` lines, as the aliases field shows them. */
const aliasLines = (aliases: ProviderKey['aliases']) =>
  Object.entries(aliases ?? {})
    .map(([alias, target]) => `${alias} = ${typeof target === 'string' ? target : target.model_id}`)
    .join('\n')

function KeyModels({ provider, k, onDone }: { provider: string; k: ProviderKey; onDone: () => void }) {
  const [blocked, setBlocked] = useState(k.blacklisted_models ?? [])
  const [aliases, setAliases] = useState(aliasLines(k.aliases))
  const parsed = () => {
    const out: Record<string, string> = {}
    const bad: string[] = []
    for (const line of aliases
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)) {
      const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(line)
      if (m) out[m[1]] = m[2]
      else bad.push(line)
    }
    return { out, bad }
  }
  const form = useSubmit(['blacklisted_models', 'aliases'], (): Problems => {
    const { bad } = parsed()
    return bad.length ? { aliases: `Write each alias as name = model (not: ${bad[0]})` } : {}
  })
  const save = () =>
    put(`/api/providers/${encodeURIComponent(provider)}/keys/${encodeURIComponent(k.id)}`, {
      ...k,
      blacklisted_models: blocked,
      aliases: parsed().out,
    })
  return (
    <Section title={`Key ${k.name || k.id}`}>
      <Text size="xs" c="dimmed" mb="xs">
        Serves: {k.models.length ? k.models.join(', ') : 'every model'}
      </Text>
      <SectionForm form={form} save={save} onSaved={onDone}>
        <TagsInput
          label="Blocked models"
          description="Never sent to this key, even when its models allow them"
          {...form.bind('blacklisted_models', blocked, setBlocked)}
        />
        <Textarea
          label="Aliases"
          description="One per line: the name callers use = the provider's model id"
          placeholder="fast = gpt-4o-mini"
          autosize
          minRows={2}
          {...form.bindText('aliases', aliases, setAliases)}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />
      </SectionForm>
    </Section>
  )
}

/** The models the provider lists itself (GET /v1/models?provider=…), asked for on demand. */
function Discovery({ provider }: { provider: string }) {
  const [models, setModels] = useState<string[]>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  useEffect(() => setModels(undefined), [provider])
  const discover = async () => {
    setBusy(true)
    setError(undefined)
    try {
      const res = await fetch(`/v1/models?provider=${encodeURIComponent(provider)}`, {
        credentials: 'same-origin',
      })
      const body = (await res.json()) as { data?: { id: string }[]; error?: { message?: string } }
      if (!res.ok) throw new Error(body.error?.message ?? `The gateway answered ${res.status}`)
      setModels((body.data ?? []).map((m) => m.id))
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Section title="Model discovery">
      <Text size="sm" c="dimmed" mb="sm">
        Asks {provider} which models it serves with the keys configured here.
      </Text>
      <Button variant="light" onClick={discover} loading={busy}>
        Discover models
      </Button>
      <ErrorNote error={error} />
      {models && (
        <Stack gap={4} mt="sm" data-testid="discovered-models">
          <Text size="sm" fw={500}>
            {formatNumber(models.length)} {models.length === 1 ? 'model' : 'models'}
          </Text>
          <Group gap={4}>
            {models.map((m) => (
              <Badge key={m} variant="default" tt="none">
                {m}
              </Badge>
            ))}
          </Group>
        </Stack>
      )}
    </Section>
  )
}
