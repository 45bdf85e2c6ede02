import { Button, Group, Select, Text, TextInput, Title } from '@mantine/core'
import { useState, type ReactNode } from 'react'
import { put } from '../api'
import { PageHeader } from '../components'
import { useSubmit } from '../form'
import { useApi } from '../hooks'
import { ListTable, saveItem, EditDialog, type DialogProps, useEditor, type Column } from '../list-page'
// The governance API's own shapes: model.ts holds types only, so nothing of the server reaches the bundle.
import type { ModelConfig, ProviderGovernance } from '../../../src/governance/model.js'
import { LimitBars, LimitFields, useLimitDrafts, type Budget, type RateLimit } from '../limits'

const SCOPE_LABEL = { global: 'All traffic', virtual_key: 'One virtual key', user: 'One user' }

/** Budgets and rate limits per model (Bifrost's model configs) and per provider (provider governance). */
export function ModelLimitsPage() {
  const configs = useApi<{ model_configs: ModelConfig[] }>('/api/governance/model-configs')
  const governed = useApi<{ providers: ProviderGovernance[] }>('/api/governance/providers')
  const providers = useApi<{ providers: { name: string }[] }>('/api/providers').data?.providers ?? []
  const keys = useApi<{ virtual_keys: { id: string; name: string }[] }>('/api/governance/virtual-keys').data
  const editor = useEditor<ModelConfig>()
  const providerEditor = useEditor<ProviderGovernance>()
  const editing = editor.item
  const provider = providerEditor.item
  return (
    <>
      <PageHeader
        title="Model and provider limits"
        description="Caps on one model (or every model, *) across all traffic or inside one virtual key, and on a whole provider. A request must pass every cap that applies, besides its virtual key's own."
        actions={
          <>
            <Button onClick={editor.create}>Add model limit</Button>
            <Button variant="default" onClick={providerEditor.create}>
              Limit a provider
            </Button>
          </>
        }
      />
      <Title order={4} mb="xs">
        Models
      </Title>
      <ListTable
        rows={configs.data?.model_configs}
        error={configs.error}
        empty={{ title: 'No model limit', hint: 'Every model may be used as much as virtual keys allow.' }}
        label="Model limits"
        minWidth={760}
        testId="model-limits-table"
        dense
        rowTestId="model-limit-row"
        columns={MODEL_COLUMNS}
        onEdit={editor.edit}
        remove={(mc) => ({
          path: `/api/governance/model-configs/${mc.id}`,
          question: `Delete the limit on ${mc.model_name}?`,
          done: 'Model limit deleted',
        })}
        reload={configs.reload}
      />
      <Title order={4} mt="xl" mb="xs">
        Providers
      </Title>
      <ListTable
        rows={governed.data?.providers}
        error={governed.error}
        empty={{
          title: 'No provider limit',
          hint: 'Providers are limited only by what virtual keys and models allow.',
        }}
        label="Provider limits"
        minWidth={600}
        testId="provider-limits-table"
        dense
        headless
        rowKey={(p) => p.provider}
        rowTestId="provider-limit-row"
        columns={PROVIDER_COLUMNS}
        onEdit={providerEditor.edit}
        remove={(p) => ({
          label: 'Remove',
          path: `/api/governance/providers/${p.provider}`,
          question: `Remove the limits of ${p.provider}?`,
          done: 'Provider limits removed',
        })}
        reload={governed.reload}
      />
      {editor.open && (
        <LimitDialog
          title={editing ? `Edit the limit on ${editing.model_name}` : 'Add model limit'}
          budgets={editing?.budgets ?? []}
          rateLimit={editing?.rate_limit}
          onClose={editor.close}
          initialHead={editing && { model_name: editing.model_name, provider: editing.provider ?? null }}
          head={(fields) => (
            <ModelFields config={editing} providers={providers} keys={keys?.virtual_keys ?? []} {...fields} />
          )}
          save={(limits, head) =>
            saveItem(
              '/api/governance/model-configs',
              editing?.id,
              editing
                ? { model_name: head.model_name, provider: head.provider, ...limits }
                : { ...head, ...limits },
            )
          }
          onSaved={configs.reload}
        />
      )}
      {providerEditor.open && (
        <LimitDialog
          title={provider ? `Limits of ${provider.provider}` : 'Limit a provider'}
          budgets={provider?.budgets ?? []}
          rateLimit={provider?.rate_limit}
          onClose={providerEditor.close}
          initialHead={provider && { provider: provider.provider }}
          head={(fields) => <ProviderField current={provider?.provider} providers={providers} {...fields} />}
          save={(limits, head) =>
            put(`/api/governance/providers/${encodeURIComponent(String(head.provider ?? ''))}`, limits)
          }
          onSaved={governed.reload}
        />
      )}
    </>
  )
}

const MODEL_COLUMNS: Column<ModelConfig>[] = [
  {
    header: 'Model',
    cell: (mc) => (
      <Text size="sm" ff="monospace">
        {mc.provider ? `${mc.provider}/` : ''}
        {mc.model_name}
      </Text>
    ),
  },
  {
    header: 'Applies to',
    cell: (mc) => (
      <>
        <Text size="sm">{SCOPE_LABEL[mc.scope]}</Text>
        {mc.scope_id && (
          <Text size="xs" c="dimmed">
            {mc.scope_name ?? mc.scope_id}
          </Text>
        )}
      </>
    ),
  },
  { header: 'Usage', miw: 260, cell: (mc) => <LimitBars budgets={mc.budgets} rateLimit={mc.rate_limit} /> },
]

const PROVIDER_COLUMNS: Column<ProviderGovernance>[] = [
  { header: 'Provider', cell: (p) => p.provider },
  { header: 'Usage', miw: 260, cell: (p) => <LimitBars budgets={p.budgets} rateLimit={p.rate_limit} /> },
]

type Head = Record<string, string | null>
interface HeadFields {
  value: Head
  onChange: (v: Head) => void
  errorFor: (field: string) => string | undefined
}

function ModelFields({
  config,
  providers,
  keys,
  value,
  onChange,
  errorFor,
}: HeadFields & {
  config?: ModelConfig
  providers: { name: string }[]
  keys: { id: string; name: string }[]
}) {
  return (
    <>
      <Group grow align="flex-start">
        <TextInput
          label="Model"
          description="A model name, or * for every model"
          value={value.model_name ?? ''}
          onChange={(e) => onChange({ ...value, model_name: e.currentTarget.value })}
          error={errorFor('model_name')}
        />
        <Select
          label="Provider"
          placeholder="every provider"
          data={providers.map((p) => p.name)}
          value={value.provider}
          onChange={(v) => onChange({ ...value, provider: v })}
          clearable
          searchable
          error={errorFor('provider')}
        />
      </Group>
      {!config && (
        <Group grow align="flex-start">
          <Select
            label="Applies to"
            data={[
              { value: 'global', label: SCOPE_LABEL.global },
              { value: 'virtual_key', label: SCOPE_LABEL.virtual_key },
            ]}
            value={value.scope ?? 'global'}
            onChange={(v) => onChange({ ...value, scope: v ?? 'global' })}
            allowDeselect={false}
          />
          {value.scope === 'virtual_key' && (
            <Select
              label="Virtual key"
              data={keys.map((k) => ({ value: k.id, label: k.name }))}
              value={value.scope_id}
              onChange={(v) => onChange({ ...value, scope_id: v })}
              searchable
              error={errorFor('scope_id')}
            />
          )}
        </Group>
      )}
    </>
  )
}

function ProviderField({
  current,
  providers,
  value,
  onChange,
  errorFor,
}: HeadFields & { current?: string; providers: { name: string }[] }) {
  if (current) return null
  return (
    <Select
      label="Provider"
      data={providers.map((p) => p.name)}
      value={value.provider}
      onChange={(v) => onChange({ ...value, provider: v })}
      searchable
      error={errorFor('provider')}
    />
  )
}

const Heading = ({ children }: { children: string }) => (
  <Text size="sm" fw={500}>
    {children}
  </Text>
)

/** A dialog for one owner's budgets and rate limit, with the owner's own fields on top. */
function LimitDialog({
  title,
  budgets,
  rateLimit,
  initialHead,
  head,
  save,
  ...dialog
}: {
  title: string
  budgets: Budget[]
  rateLimit?: RateLimit
  initialHead?: Head
  head: (fields: HeadFields) => ReactNode
  save: (limits: ReturnType<ReturnType<typeof useLimitDrafts>['bodies']>, head: Head) => Promise<unknown>
} & DialogProps) {
  const [headValue, setHead] = useState<Head>(initialHead ?? { scope: 'global' })
  const limits = useLimitDrafts(budgets, rateLimit)
  const form = useSubmit(['model_name', 'provider', 'scope_id', 'budgets', 'rate_limit'], () =>
    limits.problems(),
  )
  return (
    <EditDialog
      {...dialog}
      form={form}
      save={() => save(limits.bodies(), headValue)}
      title={title}
      size="lg"
      submitLabel="Save"
    >
      {head({ value: headValue, onChange: setHead, errorFor: form.errorFor })}
      <LimitFields
        drafts={limits}
        errorFor={form.errorFor}
        budgetsHeading={<Heading>Budgets</Heading>}
        rateHeading={<Heading>Rate limit</Heading>}
      />
    </EditDialog>
  )
}
