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
  type NumberInputProps,
  type TextInputProps,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useEffect, useState } from 'react'
import { post, put } from '../api'
import { ErrorNote } from '../components'
import { bindChecked, bindText, useSubmit } from '../form'
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
  // An input bound to one member of the plugin's config, named after it.
  const textMember = (k: string, label: string, more: Partial<TextInputProps> = {}) => (
    <TextInput label={label} name={k} {...bindText(text(k), (v) => set(k, v))} {...more} />
  )
  const numberMember = (k: string, label: string, more: Partial<NumberInputProps> = {}) => (
    <NumberInput
      label={label}
      name={k}
      value={config[k] === undefined ? '' : Number(config[k])}
      onChange={(v) => set(k, v === '' ? undefined : Number(v))}
      {...more}
    />
  )
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
          {...bindChecked(enabled, setEnabled)}
          name="cache-enabled"
        />
        <Text size="xs" c="dimmed">
          A request is looked up only when it sends x-bf-cache-key, or when a default cache key is set below.
        </Text>
        <Group grow align="flex-start">
          {textMember('default_cache_key', 'Default cache key', {
            description: 'Empty: only requests with x-bf-cache-key',
          })}
          {textMember('ttl', 'Time to live', { description: 'Seconds or "5m", "1h"', placeholder: '5m' })}
        </Group>
        <Group grow align="flex-start">
          {numberMember('threshold', 'Similarity threshold', {
            description: '0 to 1; a lookup by meaning hits at or above it',
            placeholder: '0.8',
            min: 0,
            max: 1,
            step: 0.01,
            decimalScale: 3,
          })}
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
          {textMember('provider', 'Embedding provider', { description: 'Empty: exact lookups only' })}
          {textMember('embedding_model', 'Embedding model')}
          {numberMember('dimension', 'Dimension', { min: 1 })}
        </Group>
        {flag('exclude_system_prompt', 'Leave the system prompt out of the match', false)}
        {flag('cache_by_model', 'Separate entries per model', true)}
        {flag('cache_by_provider', 'Separate entries per provider', true)}
      </Stack>
    </Paper>
  )
}
