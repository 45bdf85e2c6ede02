import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  SegmentedControl,
  SimpleGrid,
  Spoiler,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core'
import { useEffect, useState } from 'react'
import { del, post } from '../api'
import { act, ConfirmButton, Empty, ErrorNote, Loading, PageHeader } from '../components'
import { bindText, bindChecked, useSubmit } from '../form'
import { useApi } from '../hooks'
import {
  EditServer,
  HeadersField,
  parseHeaderLines,
  ServerNameField,
  ToolsField,
  type McpServerConfig,
} from './McpEdit'
import { McpSessions } from './McpSessions'
import { ToolDialog, type McpToolInfo } from './McpTool'

interface McpClient {
  config: McpServerConfig
  tools: McpToolInfo[]
  state: string
  error?: string
}

const STATE_COLOR: Record<string, string> = {
  connected: 'green',
  connecting: 'yellow',
  pending_verification: 'yellow',
  disconnected: 'red',
  error: 'red',
}

export function McpPage() {
  const { data, error, loading, reload } = useApi<{ clients: McpClient[] }>('/api/mcp/clients?limit=100')
  const [adding, setAdding] = useState(false)
  const clients = data?.clients ?? []
  // While an admin verifies a per-user OAuth server in another tab, its state is watched here.
  const [verifying, setVerifying] = useState(false)
  const pending = clients.some((c) => c.state === 'pending_verification')
  useEffect(() => {
    if (!verifying || !pending) return
    const timer = setInterval(() => void reload(), 1500)
    const stop = setTimeout(() => setVerifying(false), 5 * 60_000)
    return () => {
      clearInterval(timer)
      clearTimeout(stop)
    }
  }, [verifying, pending, reload])
  return (
    <>
      <PageHeader
        title="MCP"
        description="Tool servers the gateway connects to, and the per-user sessions it holds for them."
        actions={<Button onClick={() => setAdding(true)}>Add MCP server</Button>}
      />
      <ErrorNote error={error} />
      {loading && !data && <Loading what="MCP servers" />}
      {data && clients.length === 0 && (
        <Empty
          title="No MCP server yet"
          hint="Add a stdio, HTTP or SSE server; its tools become available to the virtual keys you allow."
        />
      )}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {clients.map((c) => (
          <ClientCard
            key={c.config.client_id}
            client={c}
            onChange={reload}
            onVerifying={() => setVerifying(true)}
          />
        ))}
      </SimpleGrid>
      <McpSessions />
      {adding && <AddServer onClose={() => setAdding(false)} onDone={reload} />}
    </>
  )
}

function ClientCard({
  client: c,
  onChange,
  onVerifying,
}: {
  client: McpClient
  onChange: () => void
  onVerifying: () => void
}) {
  const verify = () =>
    act(async () => {
      const res = await post<{ authorize_url: string }>(
        `/api/mcp/client/${c.config.client_id}/initiate-verification`,
      )
      window.open(res.authorize_url, '_blank', 'noopener')
      onVerifying()
    }, 'Log in on the page that opened; this card turns connected once you are back')
  // The gateway prefixes each tool with its server's name; within the server's card that is noise.
  const toolName = (t: McpToolInfo) => t.name.replace(`${c.config.name}-`, '')
  const [tool, setTool] = useState<McpToolInfo>()
  const [editing, setEditing] = useState(false)
  return (
    <Card withBorder padding="lg" data-testid={`mcp-${c.config.name}`}>
      <Group justify="space-between">
        <Text fw={600}>{c.config.name}</Text>
        <Group gap={6}>
          <Badge variant="light">{c.config.connection_type}</Badge>
          <Badge color={STATE_COLOR[c.state] ?? 'gray'} data-testid="mcp-state">
            {c.state.replace('_', ' ')}
          </Badge>
        </Group>
      </Group>
      <Text size="xs" c="dimmed" ff="monospace" mt={4} truncate>
        {c.config.connection_string ??
          [c.config.stdio_config?.command, ...(c.config.stdio_config?.args ?? [])].join(' ')}
      </Text>
      {c.error && (
        <Text size="sm" c="red" mt="xs">
          {c.error}
        </Text>
      )}
      <Text size="sm" mt="sm" fw={500}>
        {c.tools.length} {c.tools.length === 1 ? 'tool' : 'tools'}
        <Text span size="xs" c="dimmed" fw={400}>
          {' '}
          · callable: {c.config.tools_to_execute.length ? c.config.tools_to_execute.join(', ') : 'none'}
        </Text>
      </Text>
      <Spoiler maxHeight={64} showLabel="Show all tools" hideLabel="Show fewer">
        <Group gap={4} mt={4}>
          {c.tools.map((t) => (
            <Badge
              key={toolName(t)}
              component="button"
              type="button"
              variant="default"
              title={t.description}
              tt="none"
              style={{ cursor: 'pointer' }}
              onClick={() => setTool(t)}
              aria-label={`Tool ${toolName(t)}: description, schema, try it`}
            >
              {toolName(t)}
            </Badge>
          ))}
        </Group>
      </Spoiler>
      {c.state === 'pending_verification' && (
        <Text size="sm" mt="xs">
          Each user logs in to this server for themselves. Log in once as an admin to verify it and list its
          tools.
        </Text>
      )}
      {c.tools.length === 0 && c.state === 'connected' && (
        <Text size="xs" c="dimmed">
          The server lists no tool.
        </Text>
      )}
      <Group mt="md" gap="xs">
        {c.state === 'pending_verification' && c.config.auth_type === 'per_user_oauth' && (
          <Button size="xs" onClick={verify}>
            Verify
          </Button>
        )}
        <Button
          size="xs"
          variant="light"
          onClick={() =>
            act(() => post(`/api/mcp/client/${c.config.client_id}/reconnect`), 'Reconnected', onChange)
          }
        >
          Reconnect
        </Button>
        <Button size="xs" variant="default" onClick={() => setEditing(true)}>
          Edit
        </Button>
        <ConfirmButton
          size="xs"
          label="Delete"
          question={`Delete ${c.config.name}? Keys lose its tools, and its per-user logins are orphaned.`}
          onConfirm={() =>
            act(() => del(`/api/mcp/client/${c.config.client_id}`), `${c.config.name} deleted`, onChange)
          }
        />
      </Group>
      {tool && <ToolDialog tool={tool} label={toolName(tool)} onClose={() => setTool(undefined)} />}
      {editing && <EditServer config={c.config} onClose={() => setEditing(false)} onSaved={onChange} />}
    </Card>
  )
}

/** Splits a command line on spaces, keeping quoted parts whole. */
function splitCommand(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3])
}

function AddServer({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const [type, setType] = useState('http')
  const [name, setName] = useState('')
  const [target, setTarget] = useState('')
  const [envs, setEnvs] = useState<string[]>([])
  const [headers, setHeaders] = useState('')
  const [perUser, setPerUser] = useState(false)
  const [tools, setTools] = useState<string[]>(['*'])
  const form = useSubmit(['name', 'connection_string', 'stdio_config', 'headers', 'tools_to_execute'])
  const submit = () =>
    form.run(async () => {
      const [command, ...args] = splitCommand(target)
      const headerMap = parseHeaderLines(headers)
      await post('/api/mcp/client', {
        name,
        connection_type: type,
        ...(type === 'stdio'
          ? { stdio_config: { command: command ?? '', args, envs } }
          : {
              connection_string: target,
              ...(perUser
                ? { auth_type: 'per_user_oauth' }
                : Object.keys(headerMap).length && { auth_type: 'headers', headers: headerMap }),
            }),
        tools_to_execute: tools,
      })
      onDone()
      onClose()
    })
  return (
    <Modal opened onClose={onClose} title="Add MCP server" size="lg">
      <Stack>
        <SegmentedControl
          data={[
            { value: 'http', label: 'HTTP' },
            { value: 'sse', label: 'SSE' },
            { value: 'stdio', label: 'stdio' },
          ]}
          value={type}
          onChange={setType}
        />
        <ServerNameField {...form.bind('name', name, setName)} />
        <TextInput
          label={type === 'stdio' ? 'Command' : 'URL'}
          description={type === 'stdio' ? 'Run on the gateway host; quote arguments with spaces' : undefined}
          placeholder={
            type === 'stdio'
              ? 'npx -y @modelcontextprotocol/server-everything'
              : 'https://mcp.example.com/mcp'
          }
          {...bindText(target, setTarget)}
          error={form.errorFor(type === 'stdio' ? 'stdio_config' : 'connection_string')}
          name="mcp-target"
        />
        {type === 'stdio' ? (
          <TagsInput
            label="Environment"
            description="NAME passes the gateway's variable through; NAME=value sets one (or NAME=env.VAR)"
            value={envs}
            onChange={setEnvs}
          />
        ) : (
          <Switch label="Each user logs in to this server (OAuth)" {...bindChecked(perUser, setPerUser)} />
        )}
        {type !== 'stdio' && !perUser && (
          <HeadersField label="Headers (optional)" {...form.bind('headers', headers, setHeaders)} />
        )}
        <ToolsField {...form.bind('tools_to_execute', tools, setTools)} />
        <ErrorNote error={form.general} />
        <Button onClick={submit} loading={form.busy}>
          {form.busy ? 'Connecting…' : 'Add'}
        </Button>
      </Stack>
    </Modal>
  )
}
