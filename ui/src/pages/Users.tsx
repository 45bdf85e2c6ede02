import { PageHeader } from '../components'
import { SimpleList } from './Entities'

export function UsersPage() {
  return (
    <>
      <PageHeader
        title="Users"
        description="People who sign in through your identity provider, their roles and budgets."
      />
      <SimpleList
        path="/api/users"
        columns={[
          { key: 'email', label: 'Email' },
          { key: 'name', label: 'Name' },
          { key: 'role', label: 'Role' },
          { key: 'team_id', label: 'Team' },
        ]}
        empty={{
          title: 'No user yet',
          hint: 'Users appear here after their first sign-in, or create them through POST /api/users.',
        }}
      />
    </>
  )
}
