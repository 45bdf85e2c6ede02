import { PageHeader } from '../components'
import { SimpleList } from './Entities'

export function AccessProfilesPage() {
  return (
    <>
      <PageHeader
        title="Access profiles"
        description="Reusable sets of providers, models, budgets and tools that users are given."
      />
      <SimpleList
        path="/api/access-profiles"
        columns={[
          { key: 'name', label: 'Name' },
          { key: 'description', label: 'Description' },
          { key: 'is_active', label: 'Active' },
          { key: 'version', label: 'Version' },
        ]}
        empty={{
          title: 'No access profile yet',
          hint: 'Create one through POST /api/access-profiles and assign it to users.',
        }}
      />
    </>
  )
}
