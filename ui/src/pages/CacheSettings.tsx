import {
  Button,
  Group,
  NumberInput,
  Paper,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useEffect, useState } from 'react'
import { post, put } from '../api'
import { ErrorNote } from '../components'
import { useSubmit } from '../form'
import { useApi } from '../hooks'

/** The semantic_cache plugin's entry, as /api/plugins shows it (Bifrost's fields). */
interface CachePlugin {
  name: string
  enabled: boolean
  config: Record<string, unknown>
}

const NAME = 'semantic_cache'

/**
 * The response cache (Bifrost's semantic_cache plugin): on or off and its main settings, saved
 * through /api/plugins (no restart; every node follows). A request is cached only when it carries
 * x-bf-cache-key or a default cache key is set.
 */
export function CacheSettings() {
  const { data: plugins, reload } = useApi<{ plugins: CachePlugin[] }>('/api/plugins')
  const existing = plugins?.plugins.find((p) => p.name === NAME)
  const [enabled, setEnabled] = useState(false)
  const [config, setConfig] = useState<Record<string, unknown>>({})
  const form = useSubmit(['config'])
  useEffect(() => {
    if (!plugins) return
    setEnabled(existing?.enabled ?? false)
    setConfig(existing?.config ?? {})
  }, [plugins])
  const set = (k: string, v: unknown) => setConfig((c) => ({ ...c, [k]: v === '' ? undefined : v }))
  const text = (k: string) =>
    typeof config[k] === 'string' || typeof config[k] === 'number' ? String(config[k]) : ''
  const flag = (k: string, label: string, byDefault: boolean) => (
    <Switch
      label={label}
      checked={typeof config[k] === 'boolean' ? config[k] === true : byDefault}
      onChange={(e) => set(k, e.currentTarget.checked)}
    />
  )
  const save = () =>
    form.run(async () => {
      // Only the members that are set: the server fills in Bifrost's defaults for the rest.
      const body = {
        enabled,
        config: Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)),
      }
      if (existing) await put(`/api/plugins/${NAME}`, body)
      else await post('/api/plugins', { name: NAME, ...body })
      notifications.show({ color: 'green', message: 'Cache settings saved' })
      void reload()
    })
  return (
    <Paper withBorder p="lg" data-testid="cache-settings">
      <Group justify="space-between" mb="md">
        <Title order={4}>Response cache</Title>
        <Button size="xs" onClick={save} loading={form.busy}>
          Save cache settings
        </Button>
      </Group>
      {(form.general || form.errorFor('config')) && (
        <ErrorNote error={`Not saved: ${form.general ?? form.errorFor('config')}`} />
      )}
      <Stack gap="sm">
        <Switch
          label="Cache answers (semantic_cache)"
          checked={enabled}
          onChange={(e) => setEnabled(e.currentTarget.checked)}
          name="cache-enabled"
        />
        <Text size="xs" c="dimmed">
          A request is looked up only when it sends x-bf-cache-key, or when a default cache key is set below.
        </Text>
        <Group grow align="flex-start">
          <TextInput
            label="Default cache key"
            description="Empty: only requests with x-bf-cache-key"
            value={text('default_cache_key')}
            onChange={(e) => set('default_cache_key', e.currentTarget.value)}
            name="default_cache_key"
          />
          <TextInput
            label="Time to live"
            description='Seconds or "5m", "1h"'
            placeholder="5m"
            value={text('ttl')}
            onChange={(e) => set('ttl', e.currentTarget.value)}
            name="ttl"
          />
        </Group>
        <Group grow align="flex-start">
          <NumberInput
            label="Similarity threshold"
            description="0 to 1; a lookup by meaning hits at or above it"
            placeholder="0.8"
            min={0}
            max={1}
            step={0.01}
            decimalScale={3}
            value={config.threshold === undefined ? '' : Number(config.threshold)}
            onChange={(v) => set('threshold', v === '' ? undefined : Number(v))}
            name="threshold"
          />
          <Select
            label="Entries kept in"
            data={[
              { value: 'config_store', label: 'the config store (SQLite or PostgreSQL)' },
              { value: 'redis', label: "Redis (the cluster's)" },
            ]}
            value={text('store') || 'config_store'}
            onChange={(v) => set('store', v ?? undefined)}
            name="store"
          />
        </Group>
        <Group grow align="flex-start">
          <TextInput
            label="Embedding provider"
            description="Empty: exact lookups only"
            value={text('provider')}
            onChange={(e) => set('provider', e.currentTarget.value)}
            name="provider"
          />
          <TextInput
            label="Embedding model"
            value={text('embedding_model')}
            onChange={(e) => set('embedding_model', e.currentTarget.value)}
            name="embedding_model"
          />
          <NumberInput
            label="Dimension"
            min={1}
            value={config.dimension === undefined ? '' : Number(config.dimension)}
            onChange={(v) => set('dimension', v === '' ? undefined : Number(v))}
            name="dimension"
          />
        </Group>
        {flag('exclude_system_prompt', 'Leave the system prompt out of the match', false)}
        {flag('cache_by_model', 'Separate entries per model', true)}
        {flag('cache_by_provider', 'Separate entries per provider', true)}
      </Stack>
    </Paper>
  )
}
