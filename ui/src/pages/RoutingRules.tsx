import {
  Badge,
  Button,
  Code,
  Group,
  NumberInput,
  Select,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core'
import { useState } from 'react'
import { PageHeader, RemoveRowButton, AddRowFooter } from '../components'
import { bindText, bindChecked, useSubmit } from '../form'
import { useApi } from '../hooks'
import {
  ListTable,
  saveItem,
  EditDialog,
  type DialogProps,
  useEditor,
  type Column,
  NameField,
} from '../list-page'
import { RuleTester } from './RuleTester'

interface Target {
  provider?: string | null
  model?: string | null
  key_id?: string | null
  weight: number
}
interface Rule {
  id: string
  name: string
  description?: string
  enabled: boolean
  cel_expression: string
  targets: Target[]
  fallbacks: string[]
  scope: string
  scope_id: string | null
  priority: number
  chain_rule: boolean
}
interface Named {
  id: string
  name: string
}

const SCOPES = [
  { value: 'global', label: 'Every request' },
  { value: 'customer', label: 'One customer' },
  { value: 'team', label: 'One team' },
  { value: 'virtual_key', label: 'One virtual key' },
]
const SCOPE_LABEL = Object.fromEntries(SCOPES.map((s) => [s.value, s.label]))

/** A target's text fields: what it sets, its label, and what an empty one means. */
const TARGET_FIELDS = [
  ['provider', 'Provider', undefined],
  ['model', 'Model', undefined],
  ['key_id', 'Key id', 'any'],
] as const

const targetText = (t: Target) =>
  `${t.provider ?? '(same provider)'}/${t.model ?? '(same model)'}${t.key_id ? ` · key ${t.key_id}` : ''}`

/** Routing rules (Bifrost's CEL rules): list, create and edit, delete, and try a request against them. */
export function RoutingRulesPage() {
  const { data, error, reload } = useApi<{ rules: Rule[] }>('/api/routing/rules')
  const keys = useApi<{ virtual_keys: Named[] }>('/api/governance/virtual-keys').data?.virtual_keys ?? []
  const teams = useApi<{ teams: Named[] }>('/api/governance/teams').data?.teams ?? []
  const customers = useApi<{ customers: Named[] }>('/api/governance/customers').data?.customers ?? []
  const owners: Record<string, Named[]> = { virtual_key: keys, team: teams, customer: customers }
  const ownerName = (r: Rule) => owners[r.scope]?.find((o) => o.id === r.scope_id)?.name ?? r.scope_id
  const editor = useEditor<Rule>()
  const rules = data && [...data.rules].sort((a, b) => a.priority - b.priority)
  return (
    <>
      <PageHeader
        title="Routing rules"
        description="CEL expressions that send matching requests to another provider, model or key. Rules of the virtual key come first, then its team's, its customer's, then global ones; within a scope the lowest priority number first; the first match wins."
        actions={<Button onClick={editor.create}>Add rule</Button>}
      />
      <ListTable
        rows={rules}
        error={error}
        empty={{
          title: 'No routing rule',
          hint: 'Requests go where their model says. Add a rule to route by header, model, key or spend.',
        }}
        label="Routing rules"
        minWidth={900}
        testId="rules-table"
        dense
        rowTestId="rule-row"
        columns={columns(ownerName)}
        onEdit={editor.edit}
        remove={(r) => ({
          path: `/api/routing/rules/${r.id}`,
          question: `Delete rule ${r.name}? Requests it routed go where their model says.`,
          done: 'Rule deleted',
        })}
        reload={reload}
      />
      <RuleTester keys={keys} />
      {editor.open && <RuleForm rule={editor.item} owners={owners} onClose={editor.close} onSaved={reload} />}
    </>
  )
}

const columns = (ownerName: (r: Rule) => string | null): Column<Rule>[] => [
  { header: 'Priority', cell: (r) => r.priority },
  {
    header: 'Name',
    cell: (r) => (
      <>
        <Group gap={6}>
          <Text size="sm" fw={500}>
            {r.name}
          </Text>
          {!r.enabled && <Badge color="gray">off</Badge>}
          {r.chain_rule && <Badge variant="light">chains</Badge>}
        </Group>
        {r.description && (
          <Text size="xs" c="dimmed">
            {r.description}
          </Text>
        )}
      </>
    ),
  },
  {
    header: 'Scope',
    cell: (r) => (
      <>
        <Text size="sm">{SCOPE_LABEL[r.scope] ?? r.scope}</Text>
        {r.scope_id && (
          <Text size="xs" c="dimmed">
            {ownerName(r)}
          </Text>
        )}
      </>
    ),
  },
  { header: 'When', cell: (r) => <Code>{r.cel_expression || 'true'}</Code> },
  {
    header: 'Goes to',
    cell: (r) => (
      <>
        {r.targets.map((t, i) => (
          <Text size="sm" key={i}>
            {targetText(t)}
            {r.targets.length > 1 && ` (${Math.round(t.weight * 100)}%)`}
          </Text>
        ))}
        {r.fallbacks.length > 0 && (
          <Text size="xs" c="dimmed">
            then {r.fallbacks.join(', ')}
          </Text>
        )}
      </>
    ),
  },
]

function RuleForm({
  rule,
  owners,
  ...dialog
}: {
  rule?: Rule
  owners: Record<string, Named[]>
} & DialogProps) {
  const [name, setName] = useState(rule?.name ?? '')
  const [description, setDescription] = useState(rule?.description ?? '')
  const [enabled, setEnabled] = useState(rule?.enabled ?? true)
  const [cel, setCel] = useState(rule?.cel_expression ?? '')
  const [scope, setScope] = useState(rule?.scope ?? 'global')
  const [scopeId, setScopeId] = useState<string | null>(rule?.scope_id ?? null)
  const [priority, setPriority] = useState<number | string>(rule?.priority ?? 0)
  const [targets, setTargets] = useState<Target[]>(rule?.targets ?? [{ provider: '', model: '', weight: 1 }])
  const [fallbacks, setFallbacks] = useState((rule?.fallbacks ?? []).join(', '))
  const [chain, setChain] = useState(rule?.chain_rule ?? false)
  const form = useSubmit(['name', 'cel_expression', 'scope', 'scope_id', 'priority', 'targets', 'fallbacks'])
  const setTarget = (i: number, patch: Partial<Target>) =>
    setTargets(targets.map((t, j) => (j === i ? { ...t, ...patch } : t)))
  const save = async () => {
    const body = {
      name,
      description,
      enabled,
      cel_expression: cel,
      scope,
      scope_id: scope === 'global' ? null : scopeId,
      priority: Number(priority),
      chain_rule: chain,
      targets: targets.map((t) => ({
        provider: t.provider || null,
        model: t.model || null,
        key_id: t.key_id || null,
        weight: Number(t.weight),
      })),
      fallbacks: fallbacks
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean),
    }
    await saveItem('/api/routing/rules', rule?.id, body)
  }
  return (
    <EditDialog
      {...dialog}
      form={form}
      save={save}
      title={rule ? `Edit rule ${rule.name}` : 'Add routing rule'}
      size="xl"
      submitLabel={rule ? 'Save' : 'Add'}
    >
      <NameField {...form.bind('name', name, setName)} required={false} />
      <TextInput label="Description" {...bindText(description, setDescription)} />
      <Textarea
        label="When (CEL expression)"
        description='Variables: model, provider, request_type, headers["x-…"], params["…"], virtual_key_name, team_name, customer_name, budget_used, tokens_used, request. Empty or true matches every request.'
        placeholder={'headers["x-tier"] == "beta" && model.startsWith("gpt-4o")'}
        autosize
        minRows={2}
        styles={{ input: { fontFamily: 'monospace' } }}
        {...form.bindText('cel_expression', cel, setCel)}
      />
      <Group grow align="flex-start">
        <Select
          label="Scope"
          data={SCOPES}
          value={scope}
          onChange={(v) => setScope(v ?? 'global')}
          allowDeselect={false}
        />
        {scope !== 'global' && (
          <Select
            label={SCOPE_LABEL[scope]}
            data={(owners[scope] ?? []).map((o) => ({ value: o.id, label: o.name }))}
            value={scopeId}
            onChange={setScopeId}
            searchable
            error={form.errorFor('scope_id')}
          />
        )}
        <NumberInput
          label="Priority"
          description="Lower first"
          value={priority}
          onChange={setPriority}
          allowDecimal={false}
          error={form.errorFor('priority')}
        />
      </Group>
      <Stack gap="xs">
        <Text size="sm" fw={500}>
          Targets (weights add up to 1; an empty provider or model keeps the request&apos;s)
        </Text>
        {targets.map((t, i) => (
          <Group key={i} align="flex-end" wrap="nowrap" data-testid="rule-target">
            {TARGET_FIELDS.map(([field, label, placeholder]) => (
              <TextInput
                key={field}
                label={label}
                placeholder={placeholder}
                value={t[field] ?? ''}
                onChange={(e) => setTarget(i, { [field]: e.currentTarget.value })}
                style={{ flex: 1 }}
              />
            ))}
            <NumberInput
              label="Weight"
              value={t.weight}
              onChange={(v) => setTarget(i, { weight: Number(v) })}
              decimalScale={3}
              min={0}
              max={1}
              w={90}
            />
            <RemoveRowButton
              label="Remove target"
              disabled={targets.length === 1}
              onClick={() => setTargets(targets.filter((_, j) => j !== i))}
            />
          </Group>
        ))}
        <AddRowFooter
          error={form.errorFor('targets')}
          label="Add target"
          onAdd={() => setTargets([...targets, { provider: '', model: '', weight: 0 }])}
        />
      </Stack>
      <TextInput
        label="Fallbacks"
        description="provider/model, comma-separated; tried in order when the target fails"
        {...form.bindText('fallbacks', fallbacks, setFallbacks)}
      />
      <Group>
        <Switch label="Enabled" {...bindChecked(enabled, setEnabled)} />
        <Switch label="Chain: evaluate the rules again on the new model" {...bindChecked(chain, setChain)} />
      </Group>
    </EditDialog>
  )
}
