import { Button, Group, Modal, NumberInput, Select, Stack, Table, Text, TextInput } from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useState } from 'react'
import { del, errorText, money, post } from '../api'
import { Empty, ErrorNote, PageHeader } from '../components'
import { useApi } from '../hooks'
import { nextReset, UsageBar, type Budget } from './VirtualKeys'

interface Owner {
  id: string
  name: string
  budget?: Budget | null
  budgets?: Budget[]
  virtual_keys?: { id: string; name: string }[]
  customer?: { name: string } | null
}

/** Teams and customers: the same page over two collections. */
export function OwnerPage({ kind }: { kind: 'teams' | 'customers' }) {
  const singular = kind === 'teams' ? 'team' : 'customer'
  const { data, error, reload } = useApi<Record<string, Owner[]>>(`/api/governance/${kind}`)
  const customers = useApi<{ customers: Owner[] }>(kind === 'teams' ? '/api/governance/customers' : null)
  const [open, setOpen] = useState(false)
  const [name, setName] = useState('')
  const [budget, setBudget] = useState<number | string>('')
  const [reset, setReset] = useState<string | null>('1M')
  const [customer, setCustomer] = useState<string | null>(null)
  const [formError, setFormError] = useState<string>()
  const rows = data?.[kind] ?? []
  const create = async () => {
    try {
      await post(`/api/governance/${kind}`, {
        name,
        ...(budget !== '' && { budget: { max_limit: Number(budget), reset_duration: reset } }),
        ...(customer && { customer_id: customer }),
      })
      notifications.show({ color: 'green', message: `${singular} ${name} created` })
      setOpen(false)
      setName('')
      void reload()
    } catch (err) {
      setFormError(errorText(err))
    }
  }
  const title = kind === 'teams' ? 'Teams' : 'Customers'
  return (
    <>
      <PageHeader
        title={title}
        description={`Budgets shared by every key of a ${singular}.`}
        actions={<Button onClick={() => setOpen(true)}>Create {singular}</Button>}
      />
      <ErrorNote error={error} />
      {data && rows.length === 0 && (
        <Empty title={`No ${singular} yet`} hint={`Create a ${singular}, then attach virtual keys to it.`} />
      )}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={600}>
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                {kind === 'teams' && <Table.Th>Customer</Table.Th>}
                <Table.Th>Budget</Table.Th>
                <Table.Th>Keys</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((r) => {
                const budgets = r.budgets ?? (r.budget ? [r.budget] : [])
                return (
                  <Table.Tr key={r.id}>
                    <Table.Td fw={500}>{r.name}</Table.Td>
                    {kind === 'teams' && <Table.Td>{r.customer?.name ?? '—'}</Table.Td>}
                    <Table.Td miw={220}>
                      {budgets.map((b, i) => (
                        <div key={i} title={nextReset(b) && `Resets ${nextReset(b)}`}>
                          <UsageBar
                            used={b.current_usage ?? 0}
                            max={b.max_limit}
                            label={`${money(b.current_usage ?? 0)} of ${money(b.max_limit)} / ${b.reset_duration}`}
                          />
                        </div>
                      ))}
                      {budgets.length === 0 && (
                        <Text size="xs" c="dimmed">
                          no budget
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>{(r.virtual_keys ?? []).map((k) => k.name).join(', ') || '—'}</Table.Td>
                    <Table.Td>
                      <Button
                        size="compact-xs"
                        variant="subtle"
                        color="red"
                        onClick={() =>
                          del(`/api/governance/${kind}/${r.id}`)
                            .then(reload)
                            .catch((err) =>
                              notifications.show({
                                color: 'red',
                                title: 'Could not delete',
                                message: errorText(err),
                              }),
                            )
                        }
                      >
                        Delete
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                )
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={open} onClose={() => setOpen(false)} title={`Create ${singular}`}>
        <Stack>
          <TextInput
            label="Name"
            name={`${singular}-name`}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
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
            />
          )}
          <Group grow>
            <NumberInput
              label="Budget (USD)"
              name={`${singular}-budget`}
              value={budget}
              onChange={setBudget}
              min={0}
              decimalScale={6}
            />
            <Select label="Resets every" data={['1h', '1d', '1w', '1M']} value={reset} onChange={setReset} />
          </Group>
          <ErrorNote error={formError} />
          <Button onClick={create}>Create</Button>
        </Stack>
      </Modal>
    </>
  )
}

/** The first array in an API answer: list endpoints name theirs differently. */
export function firstArray(data: unknown): Record<string, unknown>[] {
  if (Array.isArray(data)) return data as Record<string, unknown>[]
  if (data && typeof data === 'object')
    for (const v of Object.values(data)) if (Array.isArray(v)) return v as Record<string, unknown>[]
  return []
}

/** A read-mostly list of any collection, with chosen columns. */
export function SimpleList({
  path,
  columns,
  empty,
}: {
  path: string
  columns: { key: string; label: string }[]
  empty: { title: string; hint: string }
}) {
  const { data, error } = useApi<unknown>(path)
  const rows = firstArray(data)
  const show = (v: unknown) =>
    v === undefined || v === null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v)
  return (
    <>
      <ErrorNote error={error} />
      {data !== undefined && rows.length === 0 && <Empty {...empty} />}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={500}>
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                {columns.map((c) => (
                  <Table.Th key={c.key}>{c.label}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((r, i) => (
                <Table.Tr key={String(r.id ?? i)}>
                  {columns.map((c) => (
                    <Table.Td key={c.key}>{show(r[c.key])}</Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </>
  )
}
