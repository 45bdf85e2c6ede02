import { Button, Code, CopyButton, Modal, Stack, Text } from '@mantine/core'
import { useState } from 'react'
import { post, put } from '../api'
import { act, ConfirmButton, PageHeader } from '../components'
import { useApi } from '../hooks'
import { ActiveToggle, ListTable, useSearch, type Column } from '../list-page'
import { LimitBars } from '../limits'
import { KeyStatus, VirtualKeyForm, type VirtualKey } from './VirtualKeyForm'

export function VirtualKeysPage() {
  const { search, box, empty } = useSearch()
  const { data, error, reload } = useApi<{ virtual_keys: VirtualKey[] }>(
    `/api/governance/virtual-keys${search ? `?search=${encodeURIComponent(search)}` : ''}`,
  )
  // Keys issued from an access profile belong to a user: name both.
  const users = useApi<{ users: { id: string; email: string; name?: string }[] }>('/api/users?limit=100')
  const profiles = useApi<{ access_profiles: { id: number; name: string }[] }>(
    '/api/access-profiles?limit=1000',
  )
  const ownerOf = (k: VirtualKey): string => {
    if (k.team?.name) return `team ${k.team.name}`
    if (k.customer?.name) return `customer ${k.customer.name}`
    if (k.user_id) {
      const user = users.data?.users.find((u) => u.id === k.user_id)
      const profile = profiles.data?.access_profiles.find((p) => p.id === k.access_profile_id)
      return `${user?.email ?? `user ${k.user_id}`}${profile ? ` (profile ${profile.name})` : ''}`
    }
    return '—'
  }
  const [form, setForm] = useState<{ id?: string }>()
  const [shown, setShown] = useState<{ name: string; value: string; rotated: boolean }>()
  const rotate = (k: VirtualKey) =>
    act(
      async () => {
        const res = await post<{ virtual_key: VirtualKey }>(`/api/governance/virtual-keys/${k.id}/rotate`)
        setShown({ name: k.name, value: res.virtual_key.value, rotated: true })
      },
      'Key rotated: copy the new value; the old one no longer works',
      reload,
    )
  return (
    <>
      <PageHeader
        title="Virtual keys"
        description="Keys your applications use: which providers and models they reach, their budgets and rate limits."
        actions={<Button onClick={() => setForm({})}>Create virtual key</Button>}
      />
      {box('Search virtual keys', 'Search by name')}
      <ListTable
        rows={data?.virtual_keys}
        error={error}
        empty={empty('key', {
          title: 'No virtual key yet',
          hint: 'Create one, then send it as the Authorization bearer or x-bf-vk header.',
        })}
        label="Virtual keys"
        minWidth={860}
        rowTestId={(k) => `vk-${k.name}`}
        columns={columns(ownerOf)}
        onEdit={(k) => setForm({ id: k.id })}
        remove={(k) => ({
          path: `/api/governance/virtual-keys/${k.id}`,
          question: `Delete ${k.name}? Requests with it are refused at once.`,
          done: 'Key deleted',
        })}
        reload={reload}
        actions={(k) => (
          <>
            <ConfirmButton
              label="Rotate"
              color="indigo"
              question={`Rotate ${k.name}? A new value is made and shown once. The old value stops working at once: every application using it must switch to the new one.`}
              onConfirm={() => void rotate(k)}
            />
            <ActiveToggle
              active={k.is_active}
              what="Key"
              request={() => put(`/api/governance/virtual-keys/${k.id}`, { is_active: !k.is_active })}
              reload={reload}
            />
          </>
        )}
      />
      {form && (
        <VirtualKeyForm
          id={form.id}
          onClose={() => setForm(undefined)}
          onSaved={(vk, created) => {
            if (created) setShown({ name: vk.name, value: vk.value, rotated: false })
            void reload()
          }}
        />
      )}
      <Modal
        opened={!!shown}
        onClose={() => setShown(undefined)}
        title="Copy your key now"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        <Stack>
          <Text size="sm">
            This is the only time the full value of {shown?.name} is shown.
            {shown?.rotated && ' The previous value stopped working.'}
          </Text>
          <Code block data-testid="vk-value">
            {shown?.value}
          </Code>
          <CopyButton value={shown?.value ?? ''}>
            {({ copied, copy }) => (
              <Button color={copied ? 'teal' : 'indigo'} onClick={copy}>
                {copied ? 'Copied' : 'Copy key'}
              </Button>
            )}
          </CopyButton>
        </Stack>
      </Modal>
    </>
  )
}

const columns = (ownerOf: (k: VirtualKey) => string): Column<VirtualKey>[] => [
  {
    header: 'Name',
    cell: (k) => (
      <>
        <Text fw={500}>{k.name}</Text>
        <Text size="xs" c="dimmed">
          {(k.provider_configs ?? [])
            .map(
              (p) =>
                `${p.provider}: ${(p.allowed_models ?? ['*']).join(', ')}${p.weight != null ? ` (weight ${p.weight})` : ''}`,
            )
            .join(' · ') || 'no provider'}
        </Text>
        {(k.mcp_configs?.length ?? 0) > 0 && (
          <Text size="xs" c="dimmed">
            MCP:{' '}
            {k
              .mcp_configs!.map((m) => `${m.mcp_client_name}/${(m.tools_to_execute ?? []).join(',')}`)
              .join(' · ')}
          </Text>
        )}
      </>
    ),
  },
  { header: 'Key', cell: (k) => <Code style={{ whiteSpace: 'nowrap' }}>{k.value}</Code> },
  { header: 'Owner', testId: 'vk-owner', cell: ownerOf },
  {
    header: 'Usage',
    miw: 230,
    cell: (k) => <LimitBars budgets={k.budgets ?? []} rateLimit={k.rate_limit} />,
  },
  { header: 'Status', testId: 'vk-status', cell: (k) => <KeyStatus vk={k} /> },
]
