import { Button, Group, Pagination, Stack, Table, Text, TextInput } from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { useState } from 'react'
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
import { UserAccess } from './UserAccess'

interface User {
  id: string
  name: string
  email: string
  role?: { name?: string } | null
  created_at: string
}
interface UserList {
  users: User[]
  total: number
  total_pages: number
}

const PAGE = 20

export function UsersPage() {
  const [search, setSearch] = useState('')
  const [debounced] = useDebouncedValue(search, 300)
  const [page, setPage] = useState(1)
  const q = new URLSearchParams({ page: String(page), limit: String(PAGE) })
  if (debounced) q.set('search', debounced)
  const { data, error, reload } = useApi<UserList>(`/api/users?${q}`)
  const [editing, setEditing] = useState<User | 'new'>()
  const [access, setAccess] = useState<User>()
  const users = data?.users ?? []
  return (
    <>
      <PageHeader
        title="Users"
        description="People who use the gateway, by email; access profiles give them virtual keys."
        actions={<Button onClick={() => setEditing('new')}>Create user</Button>}
      />
      <TextInput
        placeholder="Search by name or email"
        value={search}
        onChange={(e) => {
          setSearch(e.currentTarget.value)
          setPage(1)
        }}
        maw={320}
        mb="md"
        aria-label="Search users"
      />
      <ErrorNote error={error} />
      {!data && !error && <Loading what="users" />}
      {data && users.length === 0 && (
        <Empty
          title={debounced ? 'No user matches' : 'No user yet'}
          hint={
            debounced
              ? 'Clear the search to see every user.'
              : 'Create a user with their email, then give them an access profile.'
          }
        />
      )}
      {users.length > 0 && (
        <WideTable minWidth={560} label="Users">
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Email</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.map((u) => (
                <Table.Tr key={u.id} data-testid={`user-${u.email}`}>
                  <Table.Td fw={500}>{u.name}</Table.Td>
                  <Table.Td>{u.email}</Table.Td>
                  <Table.Td>{u.role?.name ?? '—'}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      <Button size="compact-xs" variant="light" onClick={() => setAccess(u)}>
                        Access
                      </Button>
                      <Button size="compact-xs" variant="light" onClick={() => setEditing(u)}>
                        Edit
                      </Button>
                      <ConfirmButton
                        label="Delete"
                        question={`Delete ${u.email}? The keys their access profiles issued are deleted too.`}
                        onConfirm={() => act(() => del(`/api/users/${u.id}`), `${u.email} deleted`, reload)}
                      />
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
      {(data?.total_pages ?? 0) > 1 && (
        <Group justify="space-between" mt="md">
          <Text size="sm" c="dimmed">
            {data!.total} users
          </Text>
          <Pagination total={data!.total_pages} value={page} onChange={setPage} />
        </Group>
      )}
      {access && <UserAccess user={access} onClose={() => setAccess(undefined)} />}
      {editing && (
        <UserForm
          user={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={reload}
        />
      )}
    </>
  )
}

function UserForm({ user, onClose, onSaved }: { user?: User; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(user?.name ?? '')
  const [email, setEmail] = useState(user?.email ?? '')
  const validate = (): Problems => ({
    ...(email.trim() === '' && { email: 'The email must not be empty' }),
    ...(email.trim() !== '' &&
      !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.trim()) && {
        email: `${email.trim()} is not an email address`,
      }),
  })
  const form = useSubmit(['name', 'email'], validate)
  const save = () =>
    form.run(async () => {
      if (user) await put(`/api/users/${user.id}`, { name, email })
      else await post('/api/users', { name, email })
      onSaved()
      onClose()
    })
  return (
    <FormDialog onClose={onClose} onSubmit={save} title={user ? `Edit ${user.email}` : 'Create user'}>
      <Stack>
        <TextInput
          label="Name"
          name="user-name"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={form.errorFor('name')}
          required
        />
        <TextInput
          label="Email"
          name="user-email"
          type="email"
          value={email}
          onChange={(e) => setEmail(e.currentTarget.value)}
          error={form.errorFor('email')}
          required
        />
        <ErrorNote error={form.general} />
        <Button type="submit" loading={form.busy}>
          {user ? 'Save' : 'Create'}
        </Button>
      </Stack>
    </FormDialog>
  )
}
