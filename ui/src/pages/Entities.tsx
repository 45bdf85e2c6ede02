import { Anchor, Button, Divider, Group, Modal, Select, Stack, Table, Text, TextInput } from '@mantine/core'
import { useState } from 'react'
import { useNavigate } from 'react-router-dom'
import { del, post, put } from '../api'
import { act, ConfirmButton, Empty, ErrorNote, PageHeader } from '../components'
import { useSubmit } from '../form'
import { useApi } from '../hooks'
import {
  budgetBodies,
  budgetDrafts,
  BudgetRows,
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
  const navigate = useNavigate()
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
      {data && rows.length === 0 && (
        <Empty
          title={`No ${singular} yet`}
          hint={`Create a ${singular}, then pick it as the owner of virtual keys.`}
        />
      )}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={700}>
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                {kind === 'teams' && <Table.Th>Customer</Table.Th>}
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
                            <Anchor key={k.id} size="sm" onClick={() => navigate('/virtual-keys')}>
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
        </Table.ScrollContainer>
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
  const form = useSubmit(['name', 'customer_id', 'budgets', 'budget', 'rate_limit'])
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
    <Modal
      opened
      onClose={onClose}
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
        />
        <Divider label="Rate limit" labelPosition="left" />
        <RateLimitFields value={rate} onChange={setRate} error={form.errorFor('rate_limit')} />
        <ErrorNote error={form.general} />
        <Button onClick={save} loading={form.busy}>
          {owner ? 'Save' : 'Create'}
        </Button>
      </Stack>
    </Modal>
  )
}
