import { Anchor, Button, Divider, Group, Select, Text } from '@mantine/core'
import { useState } from 'react'
import { Link } from 'react-router-dom'
import { PageHeader } from '../components'
import { useSubmit, type Problems } from '../form'
import { useApi } from '../hooks'
import { ListTable, saveItem, EditDialog, type DialogProps, useEditor, NameField } from '../list-page'
import { LimitBars, LimitFields, useLimitDrafts, type Budget, type RateLimit } from '../limits'

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
  const editor = useEditor<Owner>()
  const keysOf = (o: Owner) =>
    (keys.data?.virtual_keys ?? []).filter((k) => (kind === 'teams' ? k.team_id : k.customer_id) === o.id)
  const title = kind === 'teams' ? 'Teams' : 'Customers'
  return (
    <>
      <PageHeader
        title={title}
        description={`Budgets and rate limits shared by every key of a ${singular}.`}
        actions={<Button onClick={editor.create}>Create {singular}</Button>}
      />
      <ListTable
        rows={data?.[kind]}
        error={error}
        what={kind}
        empty={{
          title: `No ${singular} yet`,
          hint: `Create a ${singular}, then pick it as the owner of virtual keys.`,
        }}
        label={title}
        minWidth={kind === 'customers' ? 820 : 700}
        rowTestId={(r) => `${singular}-${r.name}`}
        columns={[
          { header: 'Name', fw: 500, cell: (r) => r.name },
          kind === 'teams'
            ? { header: 'Customer', cell: (r) => r.customer?.name ?? '—' }
            : {
                header: 'Teams',
                testId: 'customer-teams',
                cell: (r) => <Links items={teamsOf(r)} to="/teams" />,
              },
          {
            header: 'Budget and rate limit',
            miw: 230,
            cell: (r) => <LimitBars budgets={budgetsOf(r)} rateLimit={r.rate_limit} />,
          },
          {
            header: 'Virtual keys',
            cell: (r) => (
              <Links
                items={keysOf(r).map((k) => ({
                  id: k.id,
                  name: k.is_active ? k.name : `${k.name} (inactive)`,
                }))}
                to="/virtual-keys"
                none={`none: pick this ${singular} when you create or edit a key`}
              />
            ),
          },
        ]}
        onEdit={editor.edit}
        remove={(r) => ({
          path: `/api/governance/${kind}/${r.id}`,
          question: `Delete ${r.name}? Its keys stay, without this ${singular}'s budget.`,
          done: `${r.name} deleted`,
        })}
        reload={() => {
          void reload()
          void keys.reload()
        }}
      />
      {editor.open && <OwnerForm kind={kind} owner={editor.item} onClose={editor.close} onSaved={reload} />}
    </>
  )
}

/** Links to the page of each named item, or `none` in grey. */
function Links({
  items,
  to,
  none = 'none',
}: {
  items: { id: string; name: string }[]
  to: string
  none?: string
}) {
  if (items.length === 0)
    return (
      <Text size="sm" c="dimmed">
        {none}
      </Text>
    )
  return (
    <Group gap={6}>
      {items.map((i) => (
        <Anchor key={i.id} size="sm" component={Link} to={to}>
          {i.name}
        </Anchor>
      ))}
    </Group>
  )
}

function OwnerForm({
  kind,
  owner,
  ...dialog
}: {
  kind: Kind
  owner?: Owner
} & DialogProps) {
  const singular = kind === 'teams' ? 'team' : 'customer'
  const customers = useApi<{ customers: Owner[] }>(kind === 'teams' ? '/api/governance/customers' : null)
  const [name, setName] = useState(owner?.name ?? '')
  const [customer, setCustomer] = useState<string | null>(owner?.customer_id ?? null)
  const limits = useLimitDrafts(owner && budgetsOf(owner), owner?.rate_limit)
  const validate = (): Problems => ({
    ...(name.trim() === '' && { name: 'The name must not be empty' }),
    ...limits.problems(),
  })
  const form = useSubmit(['name', 'customer_id', 'budgets', 'budget', 'rate_limit'], validate)
  const save = async () => {
    const { budgets, rate_limit } = limits.bodies()
    const body = {
      name,
      budgets,
      ...((rate_limit || owner?.rate_limit) && { rate_limit }),
      ...(kind === 'teams' && { customer_id: customer }),
    }
    await saveItem(`/api/governance/${kind}`, owner?.id, body)
  }
  return (
    <EditDialog
      {...dialog}
      form={form}
      save={save}
      title={owner ? `Edit ${singular} ${owner.name}` : `Create ${singular}`}
      size="lg"
      submitLabel={owner ? 'Save' : 'Create'}
    >
      <NameField name={`${singular}-name`} {...form.bind('name', name, setName)} />
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
      <LimitFields
        drafts={limits}
        errorFor={form.errorFor}
        budgetsError={form.errorFor('budgets') ?? form.errorFor('budget')}
        budgetsHeading={<Divider label="Budgets" labelPosition="left" />}
        rateHeading={<Divider label="Rate limit" labelPosition="left" />}
      />
    </EditDialog>
  )
}
