import { Button, Code, CopyButton, Group, Modal, Stack, Table, Text, TextInput } from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { useState } from 'react'
import { del, post, put } from '../api'
import { act, ConfirmButton, Empty, ErrorNote, Loading, PageHeader, WideTable } from '../components'
import { useApi } from '../hooks'
import { LimitBars } from '../limits'
import { KeyStatus, VirtualKeyForm, type VirtualKey } from './VirtualKeyForm'

export function VirtualKeysPage() {
  const [search, setSearch] = useState('')
  const [debounced] = useDebouncedValue(search, 300)
  const { data, error, reload } = useApi<{ virtual_keys: VirtualKey[] }>(
    `/api/governance/virtual-keys${debounced ? `?search=${encodeURIComponent(debounced)}` : ''}`,
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
  const keys = data?.virtual_keys ?? []
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
      <TextInput
        placeholder="Search by name"
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
        maw={320}
        mb="md"
        aria-label="Search virtual keys"
      />
      <ErrorNote error={error} />
      {!data && !error && <Loading what="virtual keys" />}
      {data && keys.length === 0 && (
        <Empty
          title={debounced ? 'No key matches' : 'No virtual key yet'}
          hint={
            debounced
              ? 'Clear the search to see every key.'
              : 'Create one, then send it as the Authorization bearer or x-bf-vk header.'
          }
        />
      )}
      {keys.length > 0 && (
        <WideTable minWidth={860} label="Virtual keys">
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th>Owner</Table.Th>
                <Table.Th>Usage</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.map((k) => (
                <Table.Tr key={k.id} data-testid={`vk-${k.name}`}>
                  <Table.Td>
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
                          .mcp_configs!.map(
                            (m) => `${m.mcp_client_name}/${(m.tools_to_execute ?? []).join(',')}`,
                          )
                          .join(' · ')}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Code style={{ whiteSpace: 'nowrap' }}>{k.value}</Code>
                  </Table.Td>
                  <Table.Td data-testid="vk-owner">{ownerOf(k)}</Table.Td>
                  <Table.Td miw={230}>
                    <LimitBars budgets={k.budgets ?? []} rateLimit={k.rate_limit} />
                  </Table.Td>
                  <Table.Td data-testid="vk-status">
                    <KeyStatus vk={k} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="compact-xs" variant="light" onClick={() => setForm({ id: k.id })}>
                        Edit
                      </Button>
                      <ConfirmButton
                        label="Rotate"
                        color="indigo"
                        question={`Rotate ${k.name}? A new value is made and shown once. The old value stops working at once: every application using it must switch to the new one.`}
                        onConfirm={() => void rotate(k)}
                      />
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() =>
                          act(
                            () => put(`/api/governance/virtual-keys/${k.id}`, { is_active: !k.is_active }),
                            k.is_active ? 'Key deactivated' : 'Key activated',
                            reload,
                          )
                        }
                      >
                        {k.is_active ? 'Deactivate' : 'Activate'}
                      </Button>
                      <ConfirmButton
                        label="Delete"
                        question={`Delete ${k.name}? Requests with it are refused at once.`}
                        onConfirm={() =>
                          act(() => del(`/api/governance/virtual-keys/${k.id}`), 'Key deleted', reload)
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
