import {
  Badge,
  Button,
  Divider,
  Group,
  Stack,
  Switch,
  Table,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core'
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
import { formatMoney } from '../format'
import { useSubmit, type Problems } from '../form'
import { ProviderRows, type ProviderRow } from '../provider-rows'
import { useApi } from '../hooks'
import {
  budgetBodies,
  budgetDrafts,
  BudgetRows,
  limitProblems,
  rateLimitBody,
  rateLimitDraft,
  RateLimitFields,
  type Budget,
  type RateLimit,
} from '../limits'

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
  const [editing, setEditing] = useState<Profile | 'new'>()
  const profiles = data?.access_profiles ?? []
  return (
    <>
      <PageHeader
        title="Access profiles"
        description="Reusable sets of providers, models, budgets and limits; each user given a profile gets a key made from it."
        actions={<Button onClick={() => setEditing('new')}>Create access profile</Button>}
      />
      <ErrorNote error={error} />
      {!data && !error && <Loading what="access profiles" />}
      {data && profiles.length === 0 && (
        <Empty
          title="No access profile yet"
          hint="Create one with the providers and budget a group of people should have, then assign it to users."
        />
      )}
      {profiles.length > 0 && (
        <WideTable minWidth={700} label="Access profiles">
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Providers</Table.Th>
                <Table.Th>Budgets</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {profiles.map((p) => (
                <Table.Tr key={p.id} data-testid={`profile-${p.name}`}>
                  <Table.Td>
                    <Text fw={500}>{p.name}</Text>
                    <Text size="xs" c="dimmed">
                      {p.description || 'no description'} · version {p.version}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {p.provider_configs
                        .map(
                          (c) =>
                            `${c.provider_name}: ${c.all_models_allowed ? '*' : c.allowed_models.join(', ')}`,
                        )
                        .join(' · ') || '—'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">
                      {p.budgets
                        .map((b) => `${formatMoney(b.max_limit)} / ${b.reset_duration}`)
                        .join(' · ') || '—'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={p.is_active ? 'green' : 'gray'}>
                      {p.is_active ? 'active' : 'inactive'}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      <Button size="compact-xs" variant="light" onClick={() => setEditing(p)}>
                        Edit
                      </Button>
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() =>
                          act(
                            () =>
                              put(`/api/access-profiles/${p.id}/${p.is_active ? 'deactivate' : 'activate'}`),
                            p.is_active ? 'Profile deactivated' : 'Profile activated',
                            reload,
                          )
                        }
                      >
                        {p.is_active ? 'Deactivate' : 'Activate'}
                      </Button>
                      <ConfirmButton
                        label="Delete"
                        question={`Delete ${p.name}? The keys it issued to users are deleted too.`}
                        onConfirm={() =>
                          act(() => del(`/api/access-profiles/${p.id}`), `${p.name} deleted`, reload)
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
      {editing && (
        <ProfileForm
          profile={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={reload}
        />
      )}
    </>
  )
}

function ProfileForm({
  profile,
  onClose,
  onSaved,
}: {
  profile?: Profile
  onClose: () => void
  onSaved: () => void
}) {
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
  const [budgets, setBudgets] = useState(budgetDrafts(profile?.budgets))
  const [rate, setRate] = useState(rateLimitDraft(profile?.rate_limit))
  const validate = (): Problems => ({
    ...(name.trim() === '' && { name: 'The name must not be empty' }),
    ...limitProblems(budgets, rate),
  })
  const form = useSubmit(
    ['name', 'description', 'tags', 'provider_configs', 'budgets', 'rate_limit'],
    validate,
  )
  const save = () =>
    form.run(async () => {
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
        budgets: budgetBodies(budgets),
        rate_limit: rateLimitBody(rate),
      }
      if (profile) await put(`/api/access-profiles/${profile.id}`, body)
      else await post('/api/access-profiles', body)
      onSaved()
      onClose()
    })
  return (
    <FormDialog
      onClose={onClose}
      onSubmit={save}
      title={profile ? `Edit ${profile.name}` : 'Create access profile'}
      size="lg"
    >
      <Stack>
        <TextInput
          label="Name"
          name="profile-name"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={form.errorFor('name')}
          required
        />
        <TextInput
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <Group grow align="flex-end">
          <TagsInput label="Tags" value={tags} onChange={setTags} error={form.errorFor('tags')} />
          <Switch
            label="Active"
            checked={active}
            onChange={(e) => setActive(e.currentTarget.checked)}
            mb={8}
          />
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
        <Divider label="Budgets and rate limit of each issued key" labelPosition="left" />
        <BudgetRows
          value={budgets}
          onChange={setBudgets}
          error={form.errorFor('budgets')}
          errorFor={form.errorFor}
        />
        <RateLimitFields
          value={rate}
          onChange={setRate}
          error={form.errorFor('rate_limit')}
          errorFor={form.errorFor}
        />
        {form.summary && <ErrorNote error={form.summary} />}
        <ErrorNote error={form.general} />
        <Button type="submit" loading={form.busy}>
          {profile ? 'Save' : 'Create'}
        </Button>
      </Stack>
    </FormDialog>
  )
}
