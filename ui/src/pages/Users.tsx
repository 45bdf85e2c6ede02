import { Button, TextInput } from '@mantine/core'
import { useState } from 'react'
import { PageHeader } from '../components'
import { useSubmit, type Problems } from '../form'
import { useApi } from '../hooks'
import {
  ListTable,
  Pages,
  RowButton,
  saveItem,
  EditDialog,
  type DialogProps,
  useEditor,
  useSearch,
  type Column,
  NameField,
} from '../list-page'
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
  const [page, setPage] = useState(1)
  const { search, box, empty } = useSearch(() => setPage(1))
  const q = new URLSearchParams({ page: String(page), limit: String(PAGE) })
  if (search) q.set('search', search)
  const { data, error, reload } = useApi<UserList>(`/api/users?${q}`)
  const editor = useEditor<User>()
  const [access, setAccess] = useState<User>()
  return (
    <>
      <PageHeader
        title="Users"
        description="People who use the gateway, by email; access profiles give them virtual keys."
        actions={<Button onClick={editor.create}>Create user</Button>}
      />
      {box('Search users', 'Search by name or email')}
      <ListTable
        rows={data?.users}
        error={error}
        empty={empty('user', {
          title: 'No user yet',
          hint: 'Create a user with their email, then give them an access profile.',
        })}
        label="Users"
        minWidth={560}
        rowTestId={(u) => `user-${u.email}`}
        columns={COLUMNS}
        onEdit={editor.edit}
        remove={(u) => ({
          path: `/api/users/${u.id}`,
          question: `Delete ${u.email}? The keys their access profiles issued are deleted too.`,
          done: `${u.email} deleted`,
        })}
        reload={reload}
        actions={(u) => <RowButton label="Access" onClick={() => setAccess(u)} />}
      />
      <Pages
        total={data?.total ?? 0}
        pages={data?.total_pages ?? 0}
        page={page}
        onChange={setPage}
        noun={['user', 'users']}
      />
      {access && <UserAccess user={access} onClose={() => setAccess(undefined)} />}
      {editor.open && <UserForm user={editor.item} onClose={editor.close} onSaved={reload} />}
    </>
  )
}

const COLUMNS: Column<User>[] = [
  { header: 'Name', fw: 500, cell: (u) => u.name },
  { header: 'Email', cell: (u) => u.email },
  { header: 'Role', cell: (u) => u.role?.name ?? '—' },
]

function UserForm({ user, ...dialog }: { user?: User } & DialogProps) {
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
  const save = async () => {
    await saveItem('/api/users', user?.id, { name, email })
  }
  return (
    <EditDialog
      {...dialog}
      form={form}
      save={save}
      title={user ? `Edit ${user.email}` : 'Create user'}
      submitLabel={user ? 'Save' : 'Create'}
    >
      <NameField name="user-name" {...form.bind('name', name, setName)} />
      <TextInput
        label="Email"
        name="user-email"
        type="email"
        {...form.bindText('email', email, setEmail)}
        required
      />
    </EditDialog>
  )
}
