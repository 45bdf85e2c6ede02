import {
  Badge,
  Button,
  Checkbox,
  Divider,
  Group,
  Loader,
  MultiSelect,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  TextInput,
} from '@mantine/core'
import { useEffect, useState } from 'react'
import { get, post, put } from '../api'
import { ErrorNote, FormDialog, RemoveRowButton, AddRowFooter } from '../components'
import { bindText, bindChecked, numberProblem, useSubmit, type Problems } from '../form'
import { ProviderRows, type ProviderRow } from '../provider-rows'
import { useApi } from '../hooks'
import { NameField } from '../list-page'
import type { VirtualKey } from '../../../src/governance/model.js'
import { LimitFields, useLimitDrafts } from '../limits'

// The governance API's own shape (model.ts holds types only: nothing of the server reaches the bundle).
export type { VirtualKey }

/** A key's state in the list: active or not, expired or when it expires, and whether its content is logged. */
export function KeyStatus({ vk }: { vk: VirtualKey }) {
  const expiry = vk.expires_at ? new Date(vk.expires_at) : undefined
  const expired = expiry !== undefined && expiry.getTime() <= Date.now()
  return (
    <Stack gap={2} align="flex-start">
      {expired ? (
        <Badge color="red">expired</Badge>
      ) : (
        <Badge color={vk.is_active ? 'green' : 'gray'}>{vk.is_active ? 'active' : 'inactive'}</Badge>
      )}
      {expiry && (
        <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
          {expired ? 'expired' : 'expires'} {expiry.toLocaleString()}
        </Text>
      )}
      {vk.disable_content_logging && (
        <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
          content not logged
        </Text>
      )}
    </Stack>
  )
}

/** An RFC 3339 time as the `datetime-local` input shows it, in the browser's time zone. */
function localInput(iso: string | null | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
}

interface McpRow {
  client: string
  tools: string[]
}
interface McpClientSummary {
  config: { name: string }
  tools: { name?: string; function?: { name: string } }[]
}

const FIELDS = [
  'name',
  'description',
  'team_id',
  'customer_id',
  'provider_configs',
  'budgets',
  'rate_limit',
  'mcp_configs',
  'expires_at',
  'disable_content_logging',
]

/** Create (no `id`) or edit a virtual key: providers and models, budgets, rate limits, MCP tools. */
export function VirtualKeyForm({
  id,
  onClose,
  onSaved,
}: {
  id?: string
  onClose: () => void
  onSaved: (vk: VirtualKey, created: boolean) => void
}) {
  const teams = useApi<{ teams: { id: string; name: string }[] }>('/api/governance/teams')
  const customers = useApi<{ customers: { id: string; name: string }[] }>('/api/governance/customers')
  const providerList = useApi<{ providers: { name: string }[] }>('/api/providers')
  const mcp = useApi<{ clients: McpClientSummary[] }>('/api/mcp/clients?limit=100')
  const providerNames = (providerList.data?.providers ?? []).map((p) => p.name)
  const [loaded, setLoaded] = useState(!id)
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const [team, setTeam] = useState<string | null>(null)
  const [customer, setCustomer] = useState<string | null>(null)
  const [active, setActive] = useState(true)
  const [providers, setProviders] = useState<ProviderRow[]>()
  const limits = useLimitDrafts()
  const [hadRate, setHadRate] = useState(false)
  const [mcpRows, setMcpRows] = useState<McpRow[]>([])
  const [resetUsage, setResetUsage] = useState(false)
  const [expires, setExpires] = useState('')
  const [storedExpires, setStoredExpires] = useState('')
  const [logContent, setLogContent] = useState(true)
  // A new key reaches every configured provider until the user narrows it.
  const rows: ProviderRow[] =
    providers ?? providerNames.map((provider) => ({ provider, allowed_models: ['*'], weight: '' }))
  /** The owner a choice replaced (a key belongs to a team or a customer): said, not done silently. */
  const [replaced, setReplaced] = useState<string>()
  const validate = (): Problems => {
    const p: Problems = {}
    if (name.trim() === '') p.name = 'The name must not be empty'
    const weight = rows.map((r) => numberProblem(r.weight ?? '', { min: 0, what: 'A weight' })).find(Boolean)
    if (weight) p.provider_configs = weight
    if (mcpRows.some((m) => !m.client)) p.mcp_configs = 'Choose the MCP server of each row, or remove the row'
    if (expires !== storedExpires && expires !== '') {
      const at = new Date(expires).getTime()
      if (Number.isNaN(at))
        p.expires_at = 'Enter a date and time, or leave it empty for a key that never expires'
      else if (at <= Date.now()) p.expires_at = 'The expiry must be in the future'
    }
    return { ...p, ...limits.problems() }
  }
  const form = useSubmit(FIELDS, validate)
  const [loadError, setLoadError] = useState<string>()

  useEffect(() => {
    if (!id) return
    get<{ virtual_key: VirtualKey }>(`/api/governance/virtual-keys/${id}`)
      .then(({ virtual_key: vk }) => {
        setName(vk.name)
        setDescription(vk.description ?? '')
        setTeam(vk.team_id ?? null)
        setCustomer(vk.customer_id ?? null)
        setActive(vk.is_active)
        setProviders(
          (vk.provider_configs ?? []).map((p) => ({
            id: p.id,
            provider: p.provider,
            allowed_models: p.allowed_models ?? ['*'],
            weight: p.weight ?? '',
          })),
        )
        limits.load(vk.budgets, vk.rate_limit)
        setHadRate(!!vk.rate_limit)
        setExpires(localInput(vk.expires_at))
        setStoredExpires(localInput(vk.expires_at))
        setLogContent(!vk.disable_content_logging)
        setMcpRows(
          (vk.mcp_configs ?? []).map((m) => ({ client: m.mcp_client_name, tools: m.tools_to_execute ?? [] })),
        )
        setLoaded(true)
      })
      .catch((err: Error) => setLoadError(err.message))
  }, [id])

  const submit = () =>
    form.run(async () => {
      const { budgets, rate_limit: rateLimit } = limits.bodies()
      const body: Record<string, unknown> = {
        name,
        description,
        team_id: team,
        customer_id: team ? null : customer,
        provider_configs: rows.map((r) => ({
          ...(r.id !== undefined && { id: r.id }),
          provider: r.provider,
          allowed_models: r.allowed_models.length ? r.allowed_models : ['*'],
          weight: r.weight === '' ? null : Number(r.weight),
          key_ids: ['*'],
        })),
        budgets,
        mcp_configs: mcpRows
          .filter((m) => m.client)
          .map((m) => ({ mcp_client_name: m.client, tools_to_execute: m.tools.length ? m.tools : ['*'] })),
      }
      if (rateLimit || hadRate) body.rate_limit = rateLimit
      // An unchanged expiry is not sent again: one already past would be refused.
      if (expires !== storedExpires) body.expires_at = expires ? new Date(expires).toISOString() : null
      body.disable_content_logging = !logContent
      if (id) {
        body.is_active = active
        if (resetUsage) body.reset_budget_usage = true
      }
      const res = id
        ? await put<{ virtual_key: VirtualKey }>(`/api/governance/virtual-keys/${id}`, body)
        : await post<{ virtual_key: VirtualKey }>('/api/governance/virtual-keys', body)
      onSaved(res.virtual_key, !id)
      onClose()
    })

  // A key belongs to one team or one customer: choosing one clears the other, and says so.
  const owners = {
    team: { label: 'Team', list: teams.data?.teams ?? [], value: team, set: setTeam },
    customer: { label: 'Customer', list: customers.data?.customers ?? [], value: customer, set: setCustomer },
  }
  const ownerSelect = (kind: keyof typeof owners) => {
    const mine = owners[kind]
    const otherKind = kind === 'team' ? 'customer' : 'team'
    const other = owners[otherKind]
    return (
      <Select
        label={mine.label}
        placeholder="none"
        data={mine.list.map((o) => ({ value: o.id, label: o.name }))}
        value={mine.value}
        onChange={(v) => {
          mine.set(v)
          const had = other.list.find((o) => o.id === other.value)
          setReplaced(v && had ? `${otherKind} ${had.name}` : undefined)
          if (v) other.set(null)
        }}
        clearable
        name={`vk-${kind}`}
        error={form.errorFor(`${kind}_id`)}
      />
    )
  }

  // Permissions name tools without the `<server>-` prefix the gateway shows them with.
  const toolsOf = (client: string) => [
    '*',
    ...(mcp.data?.clients.find((c) => c.config.name === client)?.tools ?? []).map((t) =>
      (t.function?.name ?? t.name ?? '').replace(`${client}-`, ''),
    ),
  ]

  return (
    <FormDialog
      onClose={onClose}
      onSubmit={submit}
      title={id ? `Edit virtual key ${name}` : 'Create virtual key'}
      size="xl"
    >
      {loadError && <ErrorNote error={loadError} />}
      {!loaded && !loadError && <Loader />}
      {loaded && (
        <Stack>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <NameField name="vk-name" {...form.bind('name', name, setName)} />
            <TextInput label="Description" {...bindText(description, setDescription)} />
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            {ownerSelect('team')}
            {ownerSelect('customer')}
          </SimpleGrid>
          <Text
            size="xs"
            c="dimmed"
            mt={-8}
            data-testid="vk-owner-note"
            role={replaced ? 'status' : undefined}
          >
            {replaced
              ? `The ${replaced} was cleared: a key belongs to one team or one customer, not both. Choose it again to switch back.`
              : 'A key belongs to one team or one customer (or neither); their budgets then apply to it too.'}
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TextInput
              type="datetime-local"
              label="Expires"
              description="Empty: the key never expires"
              name="vk-expires"
              {...form.bindText('expires_at', expires, setExpires)}
            />
            <Switch
              mt={{ base: 0, sm: 'xl' }}
              label="Log request and response content"
              description="Off: this key's logs keep times, tokens and cost only"
              name="vk-log-content"
              {...bindChecked(logContent, setLogContent)}
              error={form.errorFor('disable_content_logging')}
            />
          </SimpleGrid>
          {id && (
            <Switch label="Active: requests with this key are accepted" {...bindChecked(active, setActive)} />
          )}

          <Divider label="Providers and models" labelPosition="left" />
          {rows.length === 0 && (
            <Text size="sm" c="dimmed">
              {providerNames.length
                ? 'No provider: this key reaches none. Add one below.'
                : 'No provider is configured yet: add one on the Providers page first.'}
            </Text>
          )}
          <ProviderRows
            rows={rows}
            onChange={setProviders}
            providerNames={providerNames}
            withWeight
            error={form.errorFor('provider_configs')}
            rowTestId="vk-provider-row"
            hint={
              <Text size="xs" c="dimmed">
                Weight spreads requests without a provider prefix; empty keeps the provider for explicit
                provider/model requests only.
              </Text>
            }
          />

          <LimitFields
            drafts={limits}
            errorFor={form.errorFor}
            budgetsHeading={<Divider label="Budgets and rate limit" labelPosition="left" />}
          />
          {id && (
            <Checkbox
              label="Reset the usage of this key's budgets now"
              {...bindChecked(resetUsage, setResetUsage)}
            />
          )}

          <Divider label="MCP tools" labelPosition="left" />
          {mcpRows.map((m, i) => (
            <Group key={i} align="flex-end" wrap="wrap">
              <Select
                label="MCP server"
                data={(mcp.data?.clients ?? []).map((c) => c.config.name)}
                value={m.client || null}
                onChange={(v) =>
                  setMcpRows(mcpRows.map((x, j) => (j === i ? { client: v ?? '', tools: [] } : x)))
                }
                w={{ base: '100%', sm: 180 }}
              />
              <MultiSelect
                label="Tools it may call"
                placeholder="* for all"
                data={toolsOf(m.client)}
                value={m.tools}
                onChange={(v) => setMcpRows(mcpRows.map((x, j) => (j === i ? { ...x, tools: v } : x)))}
                style={{ flex: '1 1 200px' }}
                searchable
              />
              <RemoveRowButton
                label="Remove MCP server"
                mb={2}
                onClick={() => setMcpRows(mcpRows.filter((_, j) => j !== i))}
              />
            </Group>
          ))}
          <AddRowFooter
            error={form.errorFor('mcp_configs')}
            label="Allow an MCP server"
            disabled={(mcp.data?.clients.length ?? 0) === 0}
            onAdd={() =>
              setMcpRows([...mcpRows, { client: mcp.data?.clients[0]?.config.name ?? '', tools: ['*'] }])
            }
          >
            {(mcp.data?.clients.length ?? 0) === 0 && (
              <Text size="xs" c="dimmed">
                No MCP server yet: add one on the MCP page to allow its tools.
              </Text>
            )}
          </AddRowFooter>

          {form.summary && <ErrorNote error={form.summary} />}
          <ErrorNote error={form.general} />
          <Button type="submit" loading={form.busy}>
            {id ? 'Save' : 'Create'}
          </Button>
        </Stack>
      )}
    </FormDialog>
  )
}
