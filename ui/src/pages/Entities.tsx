import { Anchor, Button, Divider, Group, Select, Stack, Table, Text, TextInput } from '@mantine/core'
import { useState } from 'react'
import { Link } from 'react-router-dom'
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
import { useSubmit, type Problems } from '../form'
import { useApi } from '../hooks'
import {
  budgetBodies,
  budgetDrafts,
  BudgetRows,
  limitProblems,
  LimitBars,
  rateLimitBody,
  rateLimitDraft,
  RateLimitFields,
  type Budget,
  type RateLimit,
} from '../limits'

interface Owner {
  id: string
  name: string
  customer_id?: string | null
  budget?: Budget | null
  budgets?: Budget[]
  rate_limit?: RateLimit | null
  customer?: { name: string } | null
}
interface KeyRef {
  id: string
  name: string
  is_active: boolean
  team_id?: string | null
  customer_id?: string | null
}

type Kind = 'teams' | 'customers'

const budgetsOf = (o: Owner) => o.budgets ?? (o.budget ? [o.budget] : [])

/** Teams and customers: the same page over two collections. */
export function OwnerPage({ kind }: { kind: Kind }) {
  const singular = kind === 'teams' ? 'team' : 'customer'
  const { data, error, reload } = useApi<Record<string, Owner[]>>(`/api/governance/${kind}`)
  const keys = useApi<{ virtual_keys: KeyRef[] }>('/api/governance/virtual-keys')
  // A customer's row lists its teams.
  const teams = useApi<{ teams: Owner[] }>(kind === 'customers' ? '/api/governance/teams' : null)
  const teamsOf = (o: Owner) => (teams.data?.teams ?? []).filter((t) => t.customer_id === o.id)
  const [editing, setEditing] = useState<Owner | 'new'>()
  const rows = data?.[kind] ?? []
  const keysOf = (o: Owner) =>
    (keys.data?.virtual_keys ?? []).filter((k) => (kind === 'teams' ? k.team_id : k.customer_id) === o.id)
  const title = kind === 'teams' ? 'Teams' : 'Customers'
  return (
    <>
      <PageHeader
        title={title}
        description={`Budgets and rate limits shared by every key of a ${singular}.`}
        actions={<Button onClick={() => setEditing('new')}>Create {singular}</Button>}
      />
      <ErrorNote error={error} />
      {!data && !error && <Loading what={kind} />}
      {data && rows.length === 0 && (
        <Empty
          title={`No ${singular} yet`}
          hint={`Create a ${singular}, then pick it as the owner of virtual keys.`}
        />
      )}
      {rows.length > 0 && (
        <WideTable minWidth={kind === 'customers' ? 820 : 700} label={title}>
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                {kind === 'teams' && <Table.Th>Customer</Table.Th>}
                {kind === 'customers' && <Table.Th>Teams</Table.Th>}
                <Table.Th>Budget and rate limit</Table.Th>
                <Table.Th>Virtual keys</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((r) => {
                const own = keysOf(r)
                return (
                  <Table.Tr key={r.id} data-testid={`${singular}-${r.name}`}>
                    <Table.Td fw={500}>{r.name}</Table.Td>
                    {kind === 'teams' && <Table.Td>{r.customer?.name ?? '—'}</Table.Td>}
                    {kind === 'customers' && (
                      <Table.Td data-testid="customer-teams">
                        {teamsOf(r).length === 0 ? (
                          <Text size="sm" c="dimmed">
                            none
                          </Text>
                        ) : (
                          <Group gap={6}>
                            {teamsOf(r).map((t) => (
                              <Anchor key={t.id} size="sm" component={Link} to="/teams">
                                {t.name}
                              </Anchor>
                            ))}
                          </Group>
                        )}
                      </Table.Td>
                    )}
                    <Table.Td miw={230}>
                      <LimitBars budgets={budgetsOf(r)} rateLimit={r.rate_limit} />
                    </Table.Td>
                    <Table.Td>
                      {own.length === 0 ? (
                        <Text size="sm" c="dimmed">
                          none: pick this {singular} when you create or edit a key
                        </Text>
                      ) : (
                        <Group gap={6}>
                          {own.map((k) => (
                            <Anchor key={k.id} size="sm" component={Link} to="/virtual-keys">
                              {k.name}
                              {!k.is_active && ' (inactive)'}
                            </Anchor>
                          ))}
                        </Group>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Button size="compact-xs" variant="light" onClick={() => setEditing(r)}>
                          Edit
                        </Button>
                        <ConfirmButton
                          label="Delete"
                          question={`Delete ${r.name}? Its keys stay, without this ${singular}'s budget.`}
                          onConfirm={() =>
                            act(
                              () => del(`/api/governance/${kind}/${r.id}`),
                              `${r.name} deleted`,
                              () => {
                                void reload()
                                void keys.reload()
                              },
                            )
                          }
                        />
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                )
              })}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
      {editing && (
        <OwnerForm
          kind={kind}
          owner={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={reload}
        />
      )}
    </>
  )
}

function OwnerForm({
  kind,
  owner,
  onClose,
  onSaved,
}: {
  kind: Kind
  owner?: Owner
  onClose: () => void
  onSaved: () => void
}) {
  const singular = kind === 'teams' ? 'team' : 'customer'
  const customers = useApi<{ customers: Owner[] }>(kind === 'teams' ? '/api/governance/customers' : null)
  const [name, setName] = useState(owner?.name ?? '')
  const [customer, setCustomer] = useState<string | null>(owner?.customer_id ?? null)
  const [budgets, setBudgets] = useState(budgetDrafts(owner ? budgetsOf(owner) : []))
  const [rate, setRate] = useState(rateLimitDraft(owner?.rate_limit))
  const validate = (): Problems => ({
    ...(name.trim() === '' && { name: 'The name must not be empty' }),
    ...limitProblems(budgets, rate),
  })
  const form = useSubmit(['name', 'customer_id', 'budgets', 'budget', 'rate_limit'], validate)
  const save = () =>
    form.run(async () => {
      const rateLimit = rateLimitBody(rate)
      const body = {
        name,
        budgets: budgetBodies(budgets),
        ...((rateLimit || owner?.rate_limit) && { rate_limit: rateLimit }),
        ...(kind === 'teams' && { customer_id: customer }),
      }
      if (owner) await put(`/api/governance/${kind}/${owner.id}`, body)
      else await post(`/api/governance/${kind}`, body)
      onSaved()
      onClose()
    })
  return (
    <FormDialog
      onClose={onClose}
      onSubmit={save}
      title={owner ? `Edit ${singular} ${owner.name}` : `Create ${singular}`}
      size="lg"
    >
      <Stack>
        <TextInput
          label="Name"
          name={`${singular}-name`}
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={form.errorFor('name')}
          required
        />
        {kind === 'teams' && (
          <Select
            label="Customer"
            placeholder="none"
            data={(customers.data?.customers ?? []).map((c) => ({ value: c.id, label: c.name }))}
            value={customer}
            onChange={setCustomer}
            clearable
            error={form.errorFor('customer_id')}
          />
        )}
        <Divider label="Budgets" labelPosition="left" />
        <BudgetRows
          value={budgets}
          onChange={setBudgets}
          error={form.errorFor('budgets') ?? form.errorFor('budget')}
          errorFor={form.errorFor}
        />
        <Divider label="Rate limit" labelPosition="left" />
        <RateLimitFields
          value={rate}
          onChange={setRate}
          error={form.errorFor('rate_limit')}
          errorFor={form.errorFor}
        />
        {form.summary && <ErrorNote error={form.summary} />}
        <ErrorNote error={form.general} />
        <Button type="submit" loading={form.busy}>
          {owner ? 'Save' : 'Create'}
        </Button>
      </Stack>
    </FormDialog>
  )
}
