import { Badge, Button, Divider, Group, Switch, TagsInput, Text, TextInput } from '@mantine/core'
import { useState } from 'react'
import { put } from '../api'
import { PageHeader } from '../components'
import {
  ActiveToggle,
  ListTable,
  saveItem,
  EditDialog,
  type DialogProps,
  useEditor,
  type Column,
  NameField,
} from '../list-page'
import { formatMoney } from '../format'
import { bindText, bindChecked, useSubmit, type Problems } from '../form'
import { ProviderRows, type ProviderRow } from '../provider-rows'
import { useApi } from '../hooks'
import { LimitFields, useLimitDrafts, type Budget, type RateLimit } from '../limits'

interface Profile {
  id: number
  name: string
  description: string | null
  is_active: boolean
  version: number
  tags: string[]
  provider_configs: { provider_name: string; allowed_models: string[]; all_models_allowed: boolean }[]
  budgets: Budget[]
  rate_limit: RateLimit | null
}

export function AccessProfilesPage() {
  const { data, error, reload } = useApi<{ access_profiles: Profile[] }>('/api/access-profiles?limit=1000')
  const editor = useEditor<Profile>()
  return (
    <>
      <PageHeader
        title="Access profiles"
        description="Reusable sets of providers, models, budgets and limits; each user given a profile gets a key made from it."
        actions={<Button onClick={editor.create}>Create access profile</Button>}
      />
      <ListTable
        rows={data?.access_profiles}
        error={error}
        empty={{
          title: 'No access profile yet',
          hint: 'Create one with the providers and budget a group of people should have, then assign it to users.',
        }}
        label="Access profiles"
        minWidth={700}
        rowTestId={(p) => `profile-${p.name}`}
        columns={COLUMNS}
        onEdit={editor.edit}
        remove={(p) => ({
          path: `/api/access-profiles/${p.id}`,
          question: `Delete ${p.name}? The keys it issued to users are deleted too.`,
          done: `${p.name} deleted`,
        })}
        reload={reload}
        actions={(p) => (
          <ActiveToggle
            active={p.is_active}
            what="Profile"
            request={() => put(`/api/access-profiles/${p.id}/${p.is_active ? 'deactivate' : 'activate'}`)}
            reload={reload}
          />
        )}
      />
      {editor.open && <ProfileForm profile={editor.item} onClose={editor.close} onSaved={reload} />}
    </>
  )
}

const COLUMNS: Column<Profile>[] = [
  {
    header: 'Name',
    cell: (p) => (
      <>
        <Text fw={500}>{p.name}</Text>
        <Text size="xs" c="dimmed">
          {p.description || 'no description'} · version {p.version}
        </Text>
      </>
    ),
  },
  {
    header: 'Providers',
    cell: (p) => (
      <Text size="sm">
        {p.provider_configs
          .map((c) => `${c.provider_name}: ${c.all_models_allowed ? '*' : c.allowed_models.join(', ')}`)
          .join(' · ') || '—'}
      </Text>
    ),
  },
  {
    header: 'Budgets',
    cell: (p) => (
      <Text size="sm">
        {p.budgets.map((b) => `${formatMoney(b.max_limit)} / ${b.reset_duration}`).join(' · ') || '—'}
      </Text>
    ),
  },
  {
    header: 'Status',
    cell: (p) => <Badge color={p.is_active ? 'green' : 'gray'}>{p.is_active ? 'active' : 'inactive'}</Badge>,
  },
]

function ProfileForm({
  profile,
  ...dialog
}: {
  profile?: Profile
} & DialogProps) {
  const providerList = useApi<{ providers: { name: string }[] }>('/api/providers')
  const names = (providerList.data?.providers ?? []).map((p) => p.name)
  const [name, setName] = useState(profile?.name ?? '')
  const [description, setDescription] = useState(profile?.description ?? '')
  const [active, setActive] = useState(profile?.is_active ?? true)
  const [tags, setTags] = useState(profile?.tags ?? [])
  const [rows, setRows] = useState<ProviderRow[]>(
    (profile?.provider_configs ?? []).map((c) => ({
      provider: c.provider_name,
      allowed_models: c.all_models_allowed ? ['*'] : c.allowed_models,
    })),
  )
  const limits = useLimitDrafts(profile?.budgets, profile?.rate_limit)
  const validate = (): Problems => ({
    ...(name.trim() === '' && { name: 'The name must not be empty' }),
    ...limits.problems(),
  })
  const form = useSubmit(
    ['name', 'description', 'tags', 'provider_configs', 'budgets', 'rate_limit'],
    validate,
  )
  const save = async () => {
    const body = {
      name,
      description,
      is_active: active,
      tags,
      provider_configs: rows.map((r) =>
        r.allowed_models.length === 0 || r.allowed_models.includes('*')
          ? { provider_name: r.provider, all_models_allowed: true }
          : { provider_name: r.provider, all_models_allowed: false, allowed_models: r.allowed_models },
      ),
      ...limits.bodies(),
    }
    await saveItem('/api/access-profiles', profile?.id, body)
  }
  return (
    <EditDialog
      {...dialog}
      form={form}
      save={save}
      title={profile ? `Edit ${profile.name}` : 'Create access profile'}
      size="lg"
      submitLabel={profile ? 'Save' : 'Create'}
    >
      <NameField name="profile-name" {...form.bind('name', name, setName)} />
      <TextInput label="Description" {...bindText(description, setDescription)} />
      <Group grow align="flex-end">
        <TagsInput label="Tags" {...form.bind('tags', tags, setTags)} />
        <Switch label="Active" {...bindChecked(active, setActive)} mb={8} />
      </Group>
      <Divider label="Providers and models" labelPosition="left" />
      <ProviderRows
        rows={rows}
        onChange={setRows}
        providerNames={names}
        error={form.errorFor('provider_configs')}
        hint={
          names.length === 0 && (
            <Text size="xs" c="dimmed">
              Add a provider on the Providers page first.
            </Text>
          )
        }
      />
      <LimitFields
        drafts={limits}
        errorFor={form.errorFor}
        budgetsHeading={<Divider label="Budgets and rate limit of each issued key" labelPosition="left" />}
      />
    </EditDialog>
  )
}
