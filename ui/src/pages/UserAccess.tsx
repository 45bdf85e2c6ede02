import { Button, Code, CopyButton, Group, Modal, Select, Stack, Table, Text } from '@mantine/core'
import { useState } from 'react'
import { del, post } from '../api'
import { act, ConfirmButton, ErrorNote, Loading } from '../components'
import { useSubmit } from '../form'
import { useApi } from '../hooks'

interface Assigned {
  id: number
  parent_profile_id: number
  name: string
  is_active: boolean
  virtual_key_values: Record<string, string>
}

/** A user's access profiles: give one (which issues a key, shown once here), or take one back. */
export function UserAccess({ user, onClose }: { user: { id: string; email: string }; onClose: () => void }) {
  const assigned = useApi<{ access_profiles: Assigned[] }>(`/api/users/${user.id}/access-profiles`)
  const profiles = useApi<{ access_profiles: { id: number; name: string; is_active: boolean }[] }>(
    '/api/access-profiles?limit=1000',
  )
  const [choice, setChoice] = useState<string | null>(null)
  const [issued, setIssued] = useState<string>()
  const form = useSubmit(['profile_id'])
  const give = () =>
    form.run(async () => {
      const res = await post<{ virtual_key: { value: string } }>(`/api/users/${user.id}/access-profiles`, {
        profile_id: Number(choice),
      })
      setIssued(res.virtual_key.value)
      setChoice(null)
      await assigned.reload()
    })
  const rows = assigned.data?.access_profiles ?? []
  const available = (profiles.data?.access_profiles ?? []).filter(
    (p) => !rows.some((r) => r.parent_profile_id === p.id),
  )
  return (
    <Modal opened onClose={onClose} title={`Access of ${user.email}`} size="lg">
      <Stack>
        <ErrorNote error={assigned.error} />
        {assigned.loading && !assigned.data && <Loading what="access profiles" />}
        {assigned.data && rows.length === 0 && (
          <Text size="sm" c="dimmed">
            No access profile yet: give one below, and the user gets a virtual key made from it.
          </Text>
        )}
        {rows.length > 0 && (
          <Table>
            <Table.Tbody>
              {rows.map((r) => (
                <Table.Tr key={r.id} data-testid={`access-${r.name}`}>
                  <Table.Td fw={500}>{r.name}</Table.Td>
                  <Table.Td>
                    <Text size="xs" ff="monospace" c="dimmed">
                      {Object.values(r.virtual_key_values).join(', ') || 'no key'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <ConfirmButton
                      label="Take back"
                      question={`Take ${r.name} back from ${user.email}? Its key is deleted.`}
                      onConfirm={() =>
                        act(
                          () => del(`/api/users/${user.id}/access-profiles/${r.parent_profile_id}`),
                          `${r.name} taken back`,
                          assigned.reload,
                        )
                      }
                    />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <Group align="flex-end">
          <Select
            label="Access profile"
            placeholder={available.length ? 'pick one' : 'create an access profile first'}
            data={available.map((p) => ({
              value: String(p.id),
              label: p.is_active ? p.name : `${p.name} (inactive)`,
            }))}
            {...form.bind('profile_id', choice, setChoice)}
            style={{ flex: 1 }}
          />
          <Button onClick={give} disabled={!choice} loading={form.busy}>
            Give profile
          </Button>
        </Group>
        <ErrorNote error={form.general} />
        {issued && (
          <Stack gap="xs">
            <Text size="sm">The user's new key: this is the only time its full value is shown.</Text>
            <Code block data-testid="issued-key">
              {issued}
            </Code>
            <CopyButton value={issued}>
              {({ copied, copy }) => (
                <Button color={copied ? 'teal' : 'indigo'} onClick={copy} w="fit-content">
                  {copied ? 'Copied' : 'Copy key'}
                </Button>
              )}
            </CopyButton>
          </Stack>
        )}
      </Stack>
    </Modal>
  )
}
