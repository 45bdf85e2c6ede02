import {
  ActionIcon,
  Badge,
  Button,
  Code,
  Group,
  NumberInput,
  Paper,
  Select,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core'
import { IconTrash } from '@tabler/icons-react'
import { useState } from 'react'
import { errorText, post } from '../api'
import { ErrorNote, FieldError, PageHeader } from '../components'
import { useSubmit } from '../form'
import { useApi } from '../hooks'
import { ListTable, saveItem, EditDialog, useEditor, type Column, NameField } from '../list-page'

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
interface TestResult {
  matched: boolean
  rule?: { id: string; name: string }
  chain: { id: string; name: string }[]
  target: { provider: string; model: string; key_id: string | null } | null
  fallbacks: string[]
  without_rules: { provider: string; model: string } | null
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
      {editor.open && <RuleForm rule={editor.item} owners={owners} onClose={editor.close} onDone={reload} />}
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
  onClose,
  onDone,
}: {
  rule?: Rule
  owners: Record<string, Named[]>
  onClose: () => void
  onDone: () => void
}) {
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
      form={form}
      save={save}
      onSaved={onDone}
      onClose={onClose}
      title={rule ? `Edit rule ${rule.name}` : 'Add routing rule'}
      size="xl"
      submitLabel={rule ? 'Save' : 'Add'}
    >
      <NameField value={name} onChange={setName} error={form.errorFor('name')} required={false} />
      <TextInput
        label="Description"
        value={description}
        onChange={(e) => setDescription(e.currentTarget.value)}
      />
      <Textarea
        label="When (CEL expression)"
        description='Variables: model, provider, request_type, headers["x-…"], params["…"], virtual_key_name, team_name, customer_name, budget_used, tokens_used, request. Empty or true matches every request.'
        placeholder={'headers["x-tier"] == "beta" && model.startsWith("gpt-4o")'}
        autosize
        minRows={2}
        styles={{ input: { fontFamily: 'monospace' } }}
        value={cel}
        onChange={(e) => setCel(e.currentTarget.value)}
        error={form.errorFor('cel_expression')}
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
            <TextInput
              label="Provider"
              value={t.provider ?? ''}
              onChange={(e) => setTarget(i, { provider: e.currentTarget.value })}
              style={{ flex: 1 }}
            />
            <TextInput
              label="Model"
              value={t.model ?? ''}
              onChange={(e) => setTarget(i, { model: e.currentTarget.value })}
              style={{ flex: 1 }}
            />
            <TextInput
              label="Key id"
              placeholder="any"
              value={t.key_id ?? ''}
              onChange={(e) => setTarget(i, { key_id: e.currentTarget.value })}
              style={{ flex: 1 }}
            />
            <NumberInput
              label="Weight"
              value={t.weight}
              onChange={(v) => setTarget(i, { weight: Number(v) })}
              decimalScale={3}
              min={0}
              max={1}
              w={90}
            />
            <ActionIcon
              variant="subtle"
              color="red"
              size="lg"
              aria-label="Remove target"
              disabled={targets.length === 1}
              onClick={() => setTargets(targets.filter((_, j) => j !== i))}
            >
              <IconTrash size={16} />
            </ActionIcon>
          </Group>
        ))}
        <FieldError error={form.errorFor('targets')} />
        <Group>
          <Button
            size="compact-sm"
            variant="light"
            onClick={() => setTargets([...targets, { provider: '', model: '', weight: 0 }])}
          >
            Add target
          </Button>
        </Group>
      </Stack>
      <TextInput
        label="Fallbacks"
        description="provider/model, comma-separated; tried in order when the target fails"
        value={fallbacks}
        onChange={(e) => setFallbacks(e.currentTarget.value)}
        error={form.errorFor('fallbacks')}
      />
      <Group>
        <Switch label="Enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        <Switch
          label="Chain: evaluate the rules again on the new model"
          checked={chain}
          onChange={(e) => setChain(e.currentTarget.checked)}
        />
      </Group>
    </EditDialog>
  )
}

/** `Name: value` lines into headers; blank lines are skipped. */
function headersOf(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const at = line.indexOf(':')
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim()
  }
  return out
}

/** Pastes a request and its headers, and shows which rule and target it would get; nothing is sent upstream. */
function RuleTester({ keys }: { keys: Named[] }) {
  const [body, setBody] = useState(
    '{\n  "model": "openai/gpt-4o-mini",\n  "messages": [{ "role": "user", "content": "Hello" }]\n}',
  )
  const [headers, setHeaders] = useState('')
  const [vk, setVk] = useState<string | null>(null)
  const [result, setResult] = useState<TestResult>()
  const [problem, setProblem] = useState<string>()
  const [busy, setBusy] = useState(false)
  const run = async () => {
    setProblem(undefined)
    let request: unknown
    try {
      request = JSON.parse(body)
    } catch {
      setProblem('The request is not valid JSON.')
      return
    }
    setBusy(true)
    try {
      setResult(
        await post<TestResult>('/api/routing/rules/test', {
          request,
          headers: headersOf(headers),
          virtual_key_id: vk,
        }),
      )
    } catch (err) {
      setResult(undefined)
      setProblem(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Paper withBorder p="md" radius="md" mt="xl" data-testid="rule-tester">
      <Title order={4} mb="xs">
        Try a request
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        Paste a request body and its headers: the rules say which of them matches and where the request goes.
        Nothing is sent to a provider.
      </Text>
      <Group grow align="flex-start">
        <Textarea
          label="Request body (JSON)"
          autosize
          minRows={5}
          styles={{ input: { fontFamily: 'monospace' } }}
          value={body}
          onChange={(e) => setBody(e.currentTarget.value)}
        />
        <Stack gap="xs">
          <Textarea
            label="Headers"
            description="One per line: x-tier: beta"
            autosize
            minRows={3}
            styles={{ input: { fontFamily: 'monospace' } }}
            value={headers}
            onChange={(e) => setHeaders(e.currentTarget.value)}
          />
          <Select
            label="As virtual key"
            placeholder="none"
            data={keys.map((k) => ({ value: k.id, label: k.name }))}
            value={vk}
            onChange={setVk}
            clearable
            searchable
          />
        </Stack>
      </Group>
      <Button mt="sm" onClick={() => void run()} loading={busy}>
        Test
      </Button>
      <ErrorNote error={problem} />
      {result && (
        <Paper withBorder p="sm" mt="sm" data-testid="rule-test-result">
          {result.matched ? (
            <Text size="sm">
              Rule <b>{result.rule?.name}</b>
              {result.chain.length > 1 && ` (chain: ${result.chain.map((c) => c.name).join(' → ')})`} sends it
              to <b>{result.target ? `${result.target.provider}/${result.target.model}` : '—'}</b>
              {result.target?.key_id && ` with key ${result.target.key_id}`}
              {result.fallbacks.length > 0 && `, then ${result.fallbacks.join(', ')}`}.
            </Text>
          ) : (
            <Text size="sm">
              No rule matches: it goes to{' '}
              <b>
                {result.target
                  ? `${result.target.provider}/${result.target.model}`
                  : 'nowhere it can be routed'}
              </b>
              .
            </Text>
          )}
          {result.matched && result.without_rules && (
            <Text size="xs" c="dimmed">
              Without rules: {result.without_rules.provider}/{result.without_rules.model}
            </Text>
          )}
        </Paper>
      )}
    </Paper>
  )
}
