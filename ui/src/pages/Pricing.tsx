import { Badge, Button, Group, NumberInput, Select, Text, TextInput } from '@mantine/core'
import { useState } from 'react'
import { post } from '../api'
import { ErrorNote, PageHeader } from '../components'
import { formatDateTime, formatMoney } from '../format'
import { useSubmit } from '../form'
import { useApi } from '../hooks'
import { ListTable, EditDialog, type DialogProps, type Column } from '../list-page'

interface PricingPatch {
  input_cost_per_token?: number | null
  output_cost_per_token?: number | null
  cache_read_input_token_cost?: number | null
}
interface PricingOverride {
  id: string
  name?: string
  scope_kind: string
  provider_id?: string | null
  virtual_key_id?: string | null
  match_type: 'exact' | 'wildcard'
  pattern: string
  pricing_patch?: PricingPatch | string | null
  updated_at?: string
}

const SCOPES = [
  { value: 'global', label: 'Every request' },
  { value: 'provider', label: 'One provider' },
  { value: 'virtual_key', label: 'One virtual key' },
  { value: 'virtual_key_provider', label: 'One virtual key on one provider' },
]
const SCOPE_LABEL: Record<string, string> = {
  ...Object.fromEntries(SCOPES.map((s) => [s.value, s.label])),
  provider_key: 'One provider key',
  virtual_key_provider_key: 'One virtual key on one provider key',
}

const MILLION = 1_000_000
/** Prices are kept per token; people think in dollars per million tokens. */
const perMillion = (perToken: number | null | undefined) =>
  perToken === undefined || perToken === null ? '—' : `${formatMoney(perToken * MILLION)} / 1M`

const patchOf = (o: PricingOverride): PricingPatch => {
  if (typeof o.pricing_patch === 'string') {
    try {
      return JSON.parse(o.pricing_patch) as PricingPatch
    } catch {
      return {}
    }
  }
  return o.pricing_patch ?? {}
}

/** Custom prices (Bifrost's pricing overrides): the costs of matching requests use them from now on. */
export function PricingPage() {
  const { data, error, reload } = useApi<{ pricing_overrides: PricingOverride[] }>(
    '/api/governance/pricing-overrides',
  )
  const keys = useApi<{ virtual_keys: { id: string; name: string }[] }>('/api/governance/virtual-keys').data
  const keyName = (id?: string | null) => keys?.virtual_keys.find((k) => k.id === id)?.name ?? id
  const [adding, setAdding] = useState(false)
  return (
    <>
      <PageHeader
        title="Pricing overrides"
        description="Your own prices for some models: negotiated rates, self-hosted models, a customer's price list. The most specific override applies; costs already logged keep theirs."
        actions={<Button onClick={() => setAdding(true)}>Add override</Button>}
      />
      <ListTable
        rows={data?.pricing_overrides}
        error={error}
        empty={{
          title: 'No pricing override',
          hint: 'Costs come from the bundled price list. Add an override to bill a model at your own rate.',
        }}
        label="Pricing overrides"
        minWidth={760}
        testId="pricing-table"
        dense
        rowTestId="pricing-row"
        columns={columns(keyName)}
        remove={(o) => ({
          path: `/api/governance/pricing-overrides/${o.id}`,
          question: `Delete ${o.name ?? 'this override'}? New requests are billed at list price.`,
          done: 'Override deleted',
        })}
        reload={reload}
      />
      {adding && (
        <AddOverride keys={keys?.virtual_keys ?? []} onClose={() => setAdding(false)} onSaved={reload} />
      )}
    </>
  )
}

const columns = (keyName: (id?: string | null) => string | null | undefined): Column<PricingOverride>[] => [
  { header: 'Name', cell: (o) => o.name ?? '—' },
  {
    header: 'Applies to',
    cell: (o) => (
      <>
        <Text size="sm">{SCOPE_LABEL[o.scope_kind] ?? o.scope_kind}</Text>
        <Text size="xs" c="dimmed">
          {[o.provider_id, o.virtual_key_id && keyName(o.virtual_key_id)].filter(Boolean).join(' · ')}
        </Text>
      </>
    ),
  },
  {
    header: 'Models',
    cell: (o) => (
      <Group gap={4} wrap="nowrap">
        <Text size="sm" ff="monospace">
          {o.pattern}
        </Text>
        {o.match_type === 'wildcard' && (
          <Badge size="xs" variant="light">
            pattern
          </Badge>
        )}
      </Group>
    ),
  },
  { header: 'Input', ta: 'right', cell: (o) => perMillion(patchOf(o).input_cost_per_token) },
  { header: 'Output', ta: 'right', cell: (o) => perMillion(patchOf(o).output_cost_per_token) },
  { header: 'Updated', cell: (o) => formatDateTime(o.updated_at) },
]

function AddOverride({
  keys,
  ...dialog
}: {
  keys: { id: string; name: string }[]
} & DialogProps) {
  const providers = useApi<{ providers: { name: string }[] }>('/api/providers').data
  const [name, setName] = useState('')
  const [scope, setScope] = useState('global')
  const [provider, setProvider] = useState<string | null>(null)
  const [vk, setVk] = useState<string | null>(null)
  const [pattern, setPattern] = useState('')
  const [input, setInput] = useState<number | string>('')
  const [output, setOutput] = useState<number | string>('')
  const form = useSubmit(['name', 'pattern', 'provider_id', 'virtual_key_id', 'pricing_patch'])
  const needsProvider = scope.includes('provider')
  const needsKey = scope.startsWith('virtual_key')
  const save = async () => {
    const perToken = (v: number | string) => (typeof v === 'number' ? v / MILLION : undefined)
    await post('/api/governance/pricing-overrides', {
      name,
      scope_kind: scope,
      ...(needsProvider && { provider_id: provider }),
      ...(needsKey && { virtual_key_id: vk }),
      match_type: pattern.includes('*') ? 'wildcard' : 'exact',
      pattern,
      pricing_patch: { input_cost_per_token: perToken(input), output_cost_per_token: perToken(output) },
    })
  }
  return (
    <EditDialog {...dialog} form={form} save={save} title="Add pricing override" size="lg" submitLabel="Add">
      <TextInput label="Name" {...form.bindText('name', name, setName)} name="pricing-name" />
      <Select
        label="Applies to"
        data={SCOPES}
        value={scope}
        onChange={(v) => setScope(v ?? 'global')}
        allowDeselect={false}
      />
      {needsProvider && (
        <Select
          label="Provider"
          data={(providers?.providers ?? []).map((p) => p.name)}
          {...form.bind('provider_id', provider, setProvider)}
          searchable
        />
      )}
      {needsKey && (
        <Select
          label="Virtual key"
          data={keys.map((k) => ({ value: k.id, label: k.name }))}
          {...form.bind('virtual_key_id', vk, setVk)}
          searchable
        />
      )}
      <TextInput
        label="Model"
        description="A model name, or a pattern where * stands for anything (claude-3*)"
        {...form.bindText('pattern', pattern, setPattern)}
        name="pricing-pattern"
      />
      <Group grow>
        {(
          [
            ['input', 'Input', input, setInput],
            ['output', 'Output', output, setOutput],
          ] as const
        ).map(([field, label, value, set]) => (
          <NumberInput
            key={field}
            label={`${label}, $ per 1M tokens`}
            min={0}
            decimalScale={6}
            value={value}
            onChange={set}
            name={`pricing-${field}`}
          />
        ))}
      </Group>
      {form.errorFor('pricing_patch') && <ErrorNote error={form.errorFor('pricing_patch')} />}
    </EditDialog>
  )
}
