import { Button, Group, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core'
import { useState, type ReactNode } from 'react'
import { del, post, put } from '../api'
import {
  act,
  ConfirmButton,
  Empty,
  ErrorNote,
  FormDialog,
  Loading,
  PageHeader,
  WideTable,
} from '../components'
import { useSubmit } from '../form'
import { useApi } from '../hooks'
import {
  budgetBodies,
  budgetDrafts,
  BudgetRows,
  LimitBars,
  limitProblems,
  rateLimitBody,
  rateLimitDraft,
  RateLimitFields,
  type Budget,
  type BudgetDraft,
  type RateLimit,
  type RateLimitDraft,
} from '../limits'

interface ModelConfig {
  id: string
  model_name: string
  provider?: string
  scope: 'global' | 'virtual_key' | 'user'
  scope_id?: string | null
  scope_name?: string | null
  budgets: Budget[]
  rate_limit?: RateLimit
}
interface ProviderGovernance {
  provider: string
  budgets: Budget[]
  rate_limit?: RateLimit
}

const SCOPE_LABEL = { global: 'All traffic', virtual_key: 'One virtual key', user: 'One user' }

/** Budgets and rate limits per model (Bifrost's model configs) and per provider (provider governance). */
export function ModelLimitsPage() {
  const configs = useApi<{ model_configs: ModelConfig[] }>('/api/governance/model-configs')
  const governed = useApi<{ providers: ProviderGovernance[] }>('/api/governance/providers')
  const providers = useApi<{ providers: { name: string }[] }>('/api/providers').data?.providers ?? []
  const keys = useApi<{ virtual_keys: { id: string; name: string }[] }>('/api/governance/virtual-keys').data
  const [editing, setEditing] = useState<ModelConfig | 'new'>()
  const [provider, setProvider] = useState<ProviderGovernance | 'new'>()
  const list = configs.data?.model_configs ?? []
  const limited = governed.data?.providers ?? []
  return (
    <>
      <PageHeader
        title="Model and provider limits"
        description="Caps on one model (or every model, *) across all traffic or inside one virtual key, and on a whole provider. A request must pass every cap that applies, besides its virtual key's own."
        actions={
          <>
            <Button onClick={() => setEditing('new')}>Add model limit</Button>
            <Button variant="default" onClick={() => setProvider('new')}>
              Limit a provider
            </Button>
          </>
        }
      />
      <ErrorNote error={configs.error ?? governed.error} />
      <Title order={4} mb="xs">
        Models
      </Title>
      {configs.loading && !configs.data && <Loading what="model limits" />}
      {configs.data && list.length === 0 && (
        <Empty title="No model limit" hint="Every model may be used as much as virtual keys allow." />
      )}
      {list.length > 0 && (
        <WideTable minWidth={760} label="Model limits">
          <Table verticalSpacing="xs" data-testid="model-limits-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Model</Table.Th>
                <Table.Th>Applies to</Table.Th>
                <Table.Th>Usage</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((mc) => (
                <Table.Tr key={mc.id} data-testid="model-limit-row">
                  <Table.Td>
                    <Text size="sm" ff="monospace">
                      {mc.provider ? `${mc.provider}/` : ''}
                      {mc.model_name}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{SCOPE_LABEL[mc.scope]}</Text>
                    {mc.scope_id && (
                      <Text size="xs" c="dimmed">
                        {mc.scope_name ?? mc.scope_id}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td miw={260}>
                    <LimitBars budgets={mc.budgets} rateLimit={mc.rate_limit} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Button size="compact-sm" variant="default" onClick={() => setEditing(mc)}>
                        Edit
                      </Button>
                      <ConfirmButton
                        label="Delete"
                        question={`Delete the limit on ${mc.model_name}?`}
                        onConfirm={() =>
                          act(
                            () => del(`/api/governance/model-configs/${mc.id}`),
                            'Model limit deleted',
                            configs.reload,
                          )
                        }
                      />
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
      <Title order={4} mt="xl" mb="xs">
        Providers
      </Title>
      {governed.data && limited.length === 0 && (
        <Empty
          title="No provider limit"
          hint="Providers are limited only by what virtual keys and models allow."
        />
      )}
      {limited.length > 0 && (
        <WideTable minWidth={600} label="Provider limits">
          <Table verticalSpacing="xs" data-testid="provider-limits-table">
            <Table.Tbody>
              {limited.map((p) => (
                <Table.Tr key={p.provider} data-testid="provider-limit-row">
                  <Table.Td>{p.provider}</Table.Td>
                  <Table.Td miw={260}>
                    <LimitBars budgets={p.budgets} rateLimit={p.rate_limit} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Button size="compact-sm" variant="default" onClick={() => setProvider(p)}>
                        Edit
                      </Button>
                      <ConfirmButton
                        label="Remove"
                        question={`Remove the limits of ${p.provider}?`}
                        onConfirm={() =>
                          act(
                            () => del(`/api/governance/providers/${p.provider}`),
                            'Provider limits removed',
                            governed.reload,
                          )
                        }
                      />
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
      {editing && (
        <LimitDialog
          title={editing === 'new' ? 'Add model limit' : `Edit the limit on ${editing.model_name}`}
          budgets={editing === 'new' ? [] : editing.budgets}
          rateLimit={editing === 'new' ? undefined : editing.rate_limit}
          onClose={() => setEditing(undefined)}
          initialHead={
            editing === 'new'
              ? undefined
              : { model_name: editing.model_name, provider: editing.provider ?? null }
          }
          head={(fields) => (
            <ModelFields
              config={editing === 'new' ? undefined : editing}
              providers={providers}
              keys={keys?.virtual_keys ?? []}
              {...fields}
            />
          )}
          save={(limits, head) =>
            editing === 'new'
              ? post('/api/governance/model-configs', { ...head, ...limits })
              : put(`/api/governance/model-configs/${editing.id}`, {
                  model_name: head.model_name,
                  provider: head.provider,
                  ...limits,
                })
          }
          onDone={configs.reload}
        />
      )}
      {provider && (
        <LimitDialog
          title={provider === 'new' ? 'Limit a provider' : `Limits of ${provider.provider}`}
          budgets={provider === 'new' ? [] : provider.budgets}
          rateLimit={provider === 'new' ? undefined : provider.rate_limit}
          onClose={() => setProvider(undefined)}
          initialHead={provider === 'new' ? undefined : { provider: provider.provider }}
          head={(fields) => (
            <ProviderField
              current={provider === 'new' ? undefined : provider.provider}
              providers={providers}
              {...fields}
            />
          )}
          save={(limits, head) =>
            put(`/api/governance/providers/${encodeURIComponent(String(head.provider ?? ''))}`, limits)
          }
          onDone={governed.reload}
        />
      )}
    </>
  )
}

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

/** A dialog for one owner's budgets and rate limit, with the owner's own fields on top. */
function LimitDialog({
  title,
  budgets,
  rateLimit,
  initialHead,
  head,
  save,
  onClose,
  onDone,
}: {
  title: string
  budgets: Budget[]
  rateLimit?: RateLimit
  initialHead?: Head
  head: (fields: HeadFields) => ReactNode
  save: (
    limits: { budgets: ReturnType<typeof budgetBodies>; rate_limit: ReturnType<typeof rateLimitBody> },
    head: Head,
  ) => Promise<unknown>
  onClose: () => void
  onDone: () => void
}) {
  const [headValue, setHead] = useState<Head>(initialHead ?? { scope: 'global' })
  const [budgetDraft, setBudgets] = useState<BudgetDraft[]>(budgetDrafts(budgets))
  const [rate, setRate] = useState<RateLimitDraft>(rateLimitDraft(rateLimit))
  const form = useSubmit(['model_name', 'provider', 'scope_id', 'budgets', 'rate_limit'], () =>
    limitProblems(budgetDraft, rate),
  )
  const submit = () =>
    form.run(async () => {
      await save({ budgets: budgetBodies(budgetDraft), rate_limit: rateLimitBody(rate) }, headValue)
      onDone()
      onClose()
    })
  return (
    <FormDialog onClose={onClose} title={title} size="lg" onSubmit={() => void submit()}>
      <Stack>
        {head({ value: headValue, onChange: setHead, errorFor: form.errorFor })}
        <Text size="sm" fw={500}>
          Budgets
        </Text>
        <BudgetRows
          value={budgetDraft}
          onChange={setBudgets}
          error={form.errorFor('budgets')}
          errorFor={form.errorFor}
        />
        <Text size="sm" fw={500}>
          Rate limit
        </Text>
        <RateLimitFields
          value={rate}
          onChange={setRate}
          error={form.errorFor('rate_limit')}
          errorFor={form.errorFor}
        />
        <ErrorNote error={form.summary ?? form.general} />
        <Button type="submit" loading={form.busy}>
          Save
        </Button>
      </Stack>
    </FormDialog>
  )
}
