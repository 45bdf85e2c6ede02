import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Code,
  Group,
  MultiSelect,
  SegmentedControl,
  Text,
  TextInput,
  Title,
} from '@mantine/core'
import { useState } from 'react'
import { post, put } from '../api'
import { act, ConfirmButton, PageHeader } from '../components'
import { bindChecked, useSubmit, type Problems } from '../form'
import { formatDateTime } from '../format'
import { useApi } from '../hooks'
import { ListTable, RowButton, EditDialog, useEditor, type Column, NameField } from '../list-page'

interface Endpoint {
  id: string
  name: string
  url: string
  events: string[]
  allow_private_network: boolean
  disabled: boolean
  consecutive_failures: number
  last_success_at?: string
  last_failure_at?: string
}
interface Delivery {
  id: string
  event: string
  url: string
  endpoint_id?: string
  async_job_id?: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: number
  last_status_code?: number
  last_error?: string
  created_at: string
  next_attempt_at?: string
}

const EVENTS = [
  'async_job.completed',
  'async_job.failed',
  'budget.exhausted',
  'virtual_key.rotated',
  'provider.circuit_opened',
]
const DELIVERY_COLORS = { pending: 'blue', delivered: 'green', failed: 'red' } as const

/** Webhook endpoints (/api/webhooks) and the delivery log (/api/webhooks/deliveries), with redelivery. */
export function WebhooksPage() {
  const endpoints = useApi<{ endpoints: Endpoint[] }>('/api/webhooks')
  const editor = useEditor<Endpoint>()
  /** A secret just made (create, rotate): shown this once. */
  const [secret, setSecret] = useState<{ name: string; secret: string }>()
  const names = new Map((endpoints.data?.endpoints ?? []).map((e) => [e.id, e.name]))
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Endpoints that receive signed events (jobs finished, budgets exhausted, keys rotated, circuits opened), and every delivery with its attempts."
        actions={<Button onClick={editor.create}>Add endpoint</Button>}
      />
      {secret && (
        <Alert
          color="yellow"
          mb="md"
          withCloseButton
          onClose={() => setSecret(undefined)}
          title="Signing secret"
        >
          <Text size="sm">
            The signing secret of {secret.name}, shown this once. Verify deliveries with it (Standard
            Webhooks, HMAC-SHA256).
          </Text>
          <Code block mt="xs" data-testid="webhook-secret">
            {secret.secret}
          </Code>
        </Alert>
      )}
      <ListTable
        rows={endpoints.data?.endpoints}
        error={endpoints.error}
        empty={{
          title: 'No endpoint yet',
          hint: 'Add an endpoint with its URL and the events it should receive.',
        }}
        label="Webhook endpoints"
        minWidth={760}
        rowTestId={(e) => `endpoint-${e.name}`}
        columns={ENDPOINT_COLUMNS}
        onEdit={editor.edit}
        remove={(e) => ({
          path: `/api/webhooks/${e.id}`,
          question: `Delete ${e.name}? Its pending deliveries end failed.`,
          done: `${e.name} deleted`,
        })}
        reload={endpoints.reload}
        actions={(e) => (
          <ConfirmButton
            label="Rotate secret"
            color="orange"
            question={`Make a new signing secret for ${e.name}? The old one stops verifying at once.`}
            onConfirm={() =>
              act(async () => {
                const r = await post<{ secret: string }>(`/api/webhooks/${e.id}/rotate-secret`)
                setSecret({ name: e.name, secret: r.secret })
              }, `New secret for ${e.name}`)
            }
          />
        )}
      />
      <Deliveries endpointNames={names} />
      {editor.open && (
        <EndpointForm
          endpoint={editor.item}
          onClose={editor.close}
          onSaved={(made) => {
            if (made) setSecret(made)
            void endpoints.reload()
          }}
        />
      )}
    </>
  )
}

function Deliveries({ endpointNames }: { endpointNames: Map<string, string> }) {
  const [status, setStatus] = useState('all')
  const path = `/api/webhooks/deliveries?limit=100${status === 'all' ? '' : `&status=${status}`}`
  const { data, error, reload } = useApi<{ deliveries: Delivery[]; total: number }>(path)
  return (
    <>
      <Group justify="space-between" mt="xl" mb="sm">
        <Title order={3}>Deliveries</Title>
        <Group gap="sm">
          <SegmentedControl
            value={status}
            onChange={setStatus}
            data={['all', 'pending', 'delivered', 'failed']}
            aria-label="Delivery status"
          />
          <Button variant="default" onClick={() => void reload()}>
            Refresh
          </Button>
        </Group>
      </Group>
      <ListTable
        rows={data?.deliveries}
        error={error}
        what="deliveries"
        empty={{ title: 'No delivery', hint: 'Deliveries appear when an event is sent.' }}
        label="Webhook deliveries"
        minWidth={860}
        rowTestId={(d) => `delivery-${d.id}`}
        columns={deliveryColumns(endpointNames)}
        actions={(d) => (
          <RowButton
            label="Redeliver"
            onClick={() =>
              void act(
                () => post(`/api/webhooks/deliveries/${d.id}/redeliver`),
                'Delivery sent again',
                reload,
              )
            }
          />
        )}
      />
    </>
  )
}

const ENDPOINT_COLUMNS: Column<Endpoint>[] = [
  { header: 'Name', fw: 500, cell: (e) => e.name },
  {
    header: 'URL',
    cell: (e) => (
      <Text size="sm" ff="monospace">
        {e.url}
      </Text>
    ),
  },
  {
    header: 'Events',
    cell: (e) => (
      <Group gap={4}>
        {e.events.map((ev) => (
          <Badge key={ev} variant="outline" size="sm">
            {ev}
          </Badge>
        ))}
      </Group>
    ),
  },
  {
    header: 'State',
    cell: (e) => (
      <Badge color={e.disabled ? 'gray' : e.consecutive_failures > 0 ? 'orange' : 'green'} variant="light">
        {e.disabled
          ? 'disabled'
          : e.consecutive_failures > 0
            ? `failing (${e.consecutive_failures})`
            : 'enabled'}
      </Badge>
    ),
  },
]

const deliveryColumns = (endpointNames: Map<string, string>): Column<Delivery>[] => [
  { header: 'Created', cell: (d) => formatDateTime(d.created_at, true) },
  {
    header: 'Event',
    cell: (d) => (
      <>
        <Text size="sm">{d.event}</Text>
        {d.async_job_id && (
          <Text size="xs" c="dimmed" ff="monospace">
            job {d.async_job_id}
          </Text>
        )}
      </>
    ),
  },
  {
    header: 'To',
    cell: (d) => <Text size="sm">{(d.endpoint_id && endpointNames.get(d.endpoint_id)) ?? d.url}</Text>,
  },
  {
    header: 'Status',
    cell: (d) => (
      <Badge color={DELIVERY_COLORS[d.status]} variant="light">
        {d.status}
      </Badge>
    ),
  },
  { header: 'Attempts', ta: 'right', cell: (d) => d.attempts },
  {
    header: 'Last answer',
    cell: (d) => (
      <>
        <Text size="sm">{d.last_status_code ?? '—'}</Text>
        {d.last_error && (
          <Text size="xs" c="dimmed">
            {d.last_error}
          </Text>
        )}
      </>
    ),
  },
]

function EndpointForm({
  endpoint,
  onClose,
  onSaved,
}: {
  endpoint?: Endpoint
  onClose: () => void
  onSaved: (made?: { name: string; secret: string }) => void
}) {
  const [name, setName] = useState(endpoint?.name ?? '')
  const [url, setUrl] = useState(endpoint?.url ?? '')
  const [events, setEvents] = useState<string[]>(
    endpoint?.events ?? ['async_job.completed', 'async_job.failed'],
  )
  const [privateNet, setPrivateNet] = useState(endpoint?.allow_private_network ?? false)
  const [disabled, setDisabled] = useState(endpoint?.disabled ?? false)
  const validate = (): Problems => ({
    ...(name.trim() === '' && { name: 'The name must not be empty' }),
    ...(url.trim() === '' && { url: 'The URL must not be empty' }),
    ...(events.length === 0 && { events: 'Choose at least one event' }),
  })
  const form = useSubmit(['name', 'url', 'events', 'allow_private_network', 'disabled'], validate)
  const save = async () => {
    const body = { name, url, events, allow_private_network: privateNet, disabled }
    if (endpoint) {
      await put(`/api/webhooks/${endpoint.id}`, body)
      onSaved()
    } else {
      const made = await post<{ secret: string }>('/api/webhooks', body)
      onSaved({ name, secret: made.secret })
    }
  }
  return (
    <EditDialog
      form={form}
      save={save}
      onClose={onClose}
      title={endpoint ? `Edit ${endpoint.name}` : 'Add webhook endpoint'}
      submitLabel={endpoint ? 'Save' : 'Add'}
    >
      <NameField
        description="What a job names in its x-bf-async-webhook header"
        {...form.bind('name', name, setName)}
      />
      <TextInput label="URL" {...form.bindText('url', url, setUrl)} required />
      <MultiSelect label="Events" data={EVENTS} {...form.bind('events', events, setEvents)} required />
      <Checkbox
        label="Allow loopback and private addresses (in-cluster receivers)"
        {...bindChecked(privateNet, setPrivateNet)}
      />
      <Checkbox label="Disabled" {...bindChecked(disabled, setDisabled)} />
    </EditDialog>
  )
}
