import { Badge, Button, Card, Group, SimpleGrid, Stack, Text, Tooltip } from '@mantine/core'
import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { api, del, errorText } from '../api'
import { act, ConfirmButton, Empty, ErrorNote, Loading, PageHeader } from '../components'
import { useApi } from '../hooks'
import { AddProvider, KeyEditor, NetworkEditor, type Provider, type ProviderKey } from './ProviderForms'

interface RecentLog {
  status: 'success' | 'error'
  attempt_trail?: unknown[] | null
}

const RECENT = 20

/** One (key, model) target as GET /api/provider-health shows it. */
interface LiveTarget {
  key_id: string
  model: string
  circuit: 'closed' | 'open' | 'half_open'
  requests: number
  errors: number
  latency_ms_ewma: number | null
  weight_ratio: number
  reason: string | null
}

/** A provider's live health: circuit breakers and adaptive weights, from the gateway's memory. */
interface LiveHealth {
  provider: string
  status: 'healthy' | 'degraded' | 'unhealthy' | 'unknown'
  targets: LiveTarget[]
}

const LIVE_COLORS = { healthy: 'green', degraded: 'orange', unhealthy: 'red', unknown: 'gray' } as const

/**
 * What the provider's last requests of the hour say about it. Requests the gateway refused before
 * calling the provider (budget, model not allowed ...) have no attempt and say nothing about it.
 */
function healthOf(logs: RecentLog[] | undefined): { color: string; label: string; detail: string } {
  const reached = (logs ?? []).filter((l) => l.status === 'success' || (l.attempt_trail?.length ?? 0) > 0)
  if (reached.length === 0)
    return {
      color: 'gray',
      label: 'no traffic',
      detail: 'No request reached it in the last hour: press Test to check it.',
    }
  const failed = reached.filter((l) => l.status !== 'success').length
  const detail = `Last ${reached.length} requests in the last hour: ${failed} failed`
  if (failed === 0) return { color: 'green', label: 'healthy', detail }
  if (failed < reached.length / 2) return { color: 'orange', label: 'degraded', detail }
  return { color: 'red', label: 'failing', detail }
}

export function ProvidersPage() {
  const { data, error, reload } = useApi<{ providers: Provider[] }>('/api/providers')
  const live = useApi<{ providers: LiveHealth[] }>('/api/provider-health')
  const reloadLive = live.reload
  useEffect(() => {
    const timer = setInterval(() => void reloadLive(), 10_000)
    return () => clearInterval(timer)
  }, [reloadLive])
  const [adding, setAdding] = useState(false)
  const [editing, setEditing] = useState<Provider>()
  const [keyEdit, setKeyEdit] = useState<{ provider: Provider; key?: ProviderKey }>()
  const providers = data?.providers ?? []
  const refresh = () => void reload()
  return (
    <>
      <PageHeader
        title="Providers & keys"
        description="Upstream providers, their API keys and network settings."
        actions={<Button onClick={() => setAdding(true)}>Add provider</Button>}
      />
      <ErrorNote error={error} />
      {!data && !error && <Loading what="providers" />}
      {data && providers.length === 0 && (
        <Empty title="No provider yet" hint="Add a provider and its API key to start sending requests." />
      )}
      <SimpleGrid cols={{ base: 1, md: 2, xl: 3 }}>
        {providers.map((p) => (
          <ProviderCard
            key={p.name}
            provider={p}
            live={live.data?.providers.find((h) => h.provider === p.name)}
            onLiveChange={() => void reloadLive()}
            onNetwork={() => setEditing(p)}
            onKey={(key) => setKeyEdit({ provider: p, key })}
            onChange={refresh}
          />
        ))}
      </SimpleGrid>
      {adding && (
        <AddProvider
          existing={providers.map((p) => p.name)}
          onClose={() => setAdding(false)}
          onSaved={refresh}
        />
      )}
      {editing && (
        <NetworkEditor provider={editing} onClose={() => setEditing(undefined)} onSaved={refresh} />
      )}
      {keyEdit && (
        <KeyEditor
          provider={keyEdit.provider}
          current={keyEdit.key}
          onClose={() => setKeyEdit(undefined)}
          onSaved={refresh}
        />
      )}
    </>
  )
}

/**
 * The live badge, when the gateway's own view says something is wrong; its tooltip names open
 * circuits, and Reset closes them on every node.
 */
function LiveBadge({ live, onReset }: { live: LiveHealth | undefined; onReset: () => void }) {
  const [error, setError] = useState<string>()
  if (!live || live.status === 'unknown' || live.status === 'healthy') return null
  const open = live.targets.filter((t) => t.circuit !== 'closed')
  const seen = live.targets.reduce((n, t) => n + t.requests, 0)
  const failed = live.targets.reduce((n, t) => n + t.errors, 0)
  const detail =
    open.length > 0
      ? open
          .map((t) => `${t.model}: ${t.circuit === 'open' ? 'open' : 'probing'} (${t.reason ?? ''})`)
          .join('; ')
      : `Now: ${seen} requests in the health window, ${failed} failed`
  const reset = async () => {
    try {
      await api('POST', '/api/provider-health/reset', { provider: live.provider })
      setError(undefined)
      onReset()
    } catch (err) {
      setError(errorText(err))
    }
  }
  return (
    <>
      <Tooltip label={error ?? detail} multiline w={300}>
        <Badge variant="light" color={LIVE_COLORS[live.status]} data-testid="provider-live-health">
          {open.length > 0
            ? `${open.length} circuit${open.length > 1 ? 's' : ''} open`
            : `live: ${live.status}`}
        </Badge>
      </Tooltip>
      {open.length > 0 && (
        <Button size="compact-xs" variant="subtle" color="red" onClick={() => void reset()}>
          Reset circuits
        </Button>
      )}
    </>
  )
}

/** A key's circuit and adaptive weight, when they say something. */
function KeyHealth({ targets }: { targets: LiveTarget[] }) {
  const open = targets.find((t) => t.circuit === 'open') ?? targets.find((t) => t.circuit === 'half_open')
  if (open)
    return (
      <Tooltip label={open.reason ?? ''} multiline w={300}>
        <Badge size="xs" color={open.circuit === 'open' ? 'red' : 'yellow'} data-testid="key-circuit">
          {open.circuit === 'open' ? 'circuit open' : 'probing'}
        </Badge>
      </Tooltip>
    )
  const least = Math.min(1, ...targets.map((t) => t.weight_ratio))
  if (least >= 1) return null
  return (
    <Tooltip label="Adaptive load balancing gives this key this share of its weight, from its latency and errors">
      <Badge size="xs" color="gray" variant="light" data-testid="key-weight">
        weight ×{least.toFixed(2)}
      </Badge>
    </Tooltip>
  )
}

function ProviderCard({
  provider,
  live,
  onLiveChange,
  onNetwork,
  onKey,
  onChange,
}: {
  provider: Provider
  live: LiveHealth | undefined
  onLiveChange: () => void
  onNetwork: () => void
  onKey: (key?: ProviderKey) => void
  onChange: () => void
}) {
  const [testing, setTesting] = useState(false)
  const [tested, setTested] = useState<{ ok: boolean; text: string }>()
  const recent = useApi<{ logs: RecentLog[] }>(
    `/api/logs?providers=${encodeURIComponent(provider.name)}&period=1h&limit=${RECENT}`,
  )
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
      setTested({ ok: true, text: `Answered: ${res.choices?.[0]?.message?.content ?? 'ok'}` })
    } catch (err) {
      setTested({ ok: false, text: errorText(err) })
    } finally {
      setTesting(false)
      void recent.reload()
    }
  }
  // A test just made says more than the last hour's traffic.
  const health = tested
    ? { color: tested.ok ? 'green' : 'red', label: tested.ok ? 'healthy' : 'failing', detail: tested.text }
    : !recent.error
      ? healthOf(recent.data?.logs)
      : { color: 'gray', label: 'untested', detail: 'The logs are not available: press Test to check it.' }
  const n = provider.network_config ?? {}
  return (
    <Card withBorder radius="md" padding="lg" data-testid={`provider-${provider.name}`}>
      <Group justify="space-between">
        <div>
          <Text fw={600} size="lg">
            {provider.name}
          </Text>
          {provider.custom_provider_config && (
            <Text size="xs" c="dimmed">
              custom, {provider.custom_provider_config.base_provider_type} API
            </Text>
          )}
        </div>
        <Group gap={4}>
          <LiveBadge live={live} onReset={onLiveChange} />
          <Tooltip label={health.detail} multiline w={260}>
            <Badge color={health.color} data-testid="provider-health">
              {health.label}
            </Badge>
          </Tooltip>
        </Group>
      </Group>
      <Text size="sm" c="dimmed" mt={4}>
        {n.base_url || 'default endpoint'}
        {n.default_request_timeout_in_seconds ? ` · ${n.default_request_timeout_in_seconds}s timeout` : ''}
        {n.max_retries ? ` · ${n.max_retries} retries` : ''}
        {n.extra_headers && Object.keys(n.extra_headers).length
          ? ` · headers: ${Object.keys(n.extra_headers).join(', ')}`
          : ''}
      </Text>
      <Stack gap={6} mt="sm">
        {provider.keys.map((k) => (
          <Group
            key={k.id}
            gap="xs"
            justify="space-between"
            wrap="nowrap"
            data-testid={`key-${k.name || k.id}`}
          >
            <div style={{ minWidth: 0 }}>
              <Text size="sm" fw={500} c={k.enabled === false ? 'dimmed' : undefined} truncate>
                {k.name || k.id}
                {k.enabled === false && ' (disabled)'}
                {k.weight !== undefined && k.weight !== 1 && (
                  <Text span size="xs" c="dimmed">
                    {' '}
                    · weight {k.weight}
                  </Text>
                )}
              </Text>
              <Text size="xs" ff="monospace" c="dimmed" truncate>
                {k.value}
              </Text>
            </div>
            <Group gap={2} wrap="nowrap">
              <KeyHealth targets={live?.targets.filter((t) => t.key_id === k.id) ?? []} />
              <Button size="compact-xs" variant="subtle" onClick={() => onKey(k)}>
                Edit
              </Button>
              <ConfirmButton
                label="Remove"
                question={`Remove key ${k.name || k.id}? Requests stop using it at once.`}
                onConfirm={() =>
                  act(() => del(`/api/providers/${provider.name}/keys/${k.id}`), 'Key removed', onChange)
                }
              />
            </Group>
          </Group>
        ))}
        {provider.keys.length === 0 && (
          <Text size="sm" c="dimmed">
            No key yet: add one so that requests can reach {provider.name}.
          </Text>
        )}
      </Stack>
      <Text
        size="sm"
        c={health.color === 'gray' ? 'dimmed' : health.color}
        mt="sm"
        data-testid="provider-health-detail"
      >
        {health.detail}
      </Text>
      <Group mt="md" gap="xs">
        <Button size="xs" variant="light" onClick={test} loading={testing}>
          Test
        </Button>
        <Button size="xs" variant="default" onClick={() => onKey()}>
          Add key
        </Button>
        <Button size="xs" variant="default" onClick={onNetwork}>
          Network
        </Button>
        <Button size="xs" variant="default" component={Link} to={`/providers/${provider.name}/advanced`}>
          Advanced
        </Button>
        <ConfirmButton
          size="xs"
          label="Delete"
          question={`Delete ${provider.name} with its keys? Requests to it fail at once.`}
          onConfirm={() =>
            act(() => del(`/api/providers/${provider.name}`), `${provider.name} deleted`, onChange)
          }
        />
      </Group>
    </Card>
  )
}
