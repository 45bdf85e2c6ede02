import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { useState } from 'react'
import { del, errorText, post } from '../api'
import { Empty, ErrorNote, PageHeader } from '../components'
import { useApi } from '../hooks'

interface McpClient {
  config: {
    client_id: string
    name: string
    connection_type: string
    connection_string?: string
    stdio_config?: { command: string; args: string[] }
  }
  tools: { name?: string; function?: { name: string; description?: string } }[]
  state: string
  error?: string
}
interface McpSession {
  id: string
  mcp_client_id?: string
  client_name?: string
  status?: string
  expires_at?: string
}

const STATE_COLOR: Record<string, string> = {
  connected: 'green',
  connecting: 'yellow',
  disconnected: 'red',
  error: 'red',
}

export function McpPage() {
  const { data, error, reload } = useApi<{ clients: McpClient[] }>('/api/mcp/clients?limit=100')
  const sessions = useApi<{ sessions: McpSession[] }>('/api/mcp/sessions')
  const [adding, setAdding] = useState(false)
  const clients = data?.clients ?? []
  const act = (p: Promise<unknown>, done: string, then: () => unknown) =>
    p
      .then(() => {
        notifications.show({ color: 'green', message: done })
        void then()
      })
      .catch((err) =>
        notifications.show({ color: 'red', title: 'That did not work', message: errorText(err) }),
      )
  return (
    <>
      <PageHeader
        title="MCP"
        description="Tool servers the gateway connects to, and the per-user sessions it holds for them."
        actions={<Button onClick={() => setAdding(true)}>Add MCP server</Button>}
      />
      <ErrorNote error={error} />
      {data && clients.length === 0 && (
        <Empty
          title="No MCP server yet"
          hint="Add a stdio, HTTP or SSE server; its tools become available to virtual keys you allow."
        />
      )}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {clients.map((c) => (
          <Card withBorder key={c.config.client_id} padding="lg">
            <Group justify="space-between">
              <Text fw={600}>{c.config.name}</Text>
              <Group gap={6}>
                <Badge variant="light">{c.config.connection_type}</Badge>
                <Badge color={STATE_COLOR[c.state] ?? 'gray'}>{c.state}</Badge>
              </Group>
            </Group>
            <Text size="xs" c="dimmed" ff="monospace" mt={4}>
              {c.config.connection_string ??
                [c.config.stdio_config?.command, ...(c.config.stdio_config?.args ?? [])].join(' ')}
            </Text>
            {c.error && (
              <Text size="sm" c="red" mt="xs">
                {c.error}
              </Text>
            )}
            <Group gap={4} mt="sm">
              {c.tools.map((t) => (
                <Badge
                  key={t.function?.name ?? t.name}
                  variant="outline"
                  color="gray"
                  title={t.function?.description}
                >
                  {t.function?.name ?? t.name}
                </Badge>
              ))}
            </Group>
            <Group mt="md" gap="xs">
              <Button
                size="xs"
                variant="light"
                onClick={() =>
                  act(post(`/api/mcp/client/${c.config.client_id}/reconnect`), 'Reconnected', reload)
                }
              >
                Reconnect
              </Button>
              <Button
                size="xs"
                variant="subtle"
                color="red"
                onClick={() => act(del(`/api/mcp/client/${c.config.client_id}`), 'Removed', reload)}
              >
                Remove
              </Button>
            </Group>
          </Card>
        ))}
      </SimpleGrid>
      <Title order={4} mt="xl" mb="sm">
        Per-user sessions
      </Title>
      <ErrorNote error={sessions.error} />
      {sessions.data && sessions.data.sessions.length === 0 && (
        <Text c="dimmed" size="sm">
          No per-user OAuth session. Users sign in to an OAuth MCP server the first time they use one of its
          tools.
        </Text>
      )}
      {(sessions.data?.sessions.length ?? 0) > 0 && (
        <Table>
          <Table.Tbody>
            {sessions.data!.sessions.map((s) => (
              <Table.Tr key={s.id}>
                <Table.Td>{s.client_name ?? s.mcp_client_id}</Table.Td>
                <Table.Td>{s.status}</Table.Td>
                <Table.Td>{s.expires_at && new Date(s.expires_at).toLocaleString()}</Table.Td>
                <Table.Td>
                  <Group gap={4}>
                    <Button
                      size="compact-xs"
                      variant="light"
                      onClick={() =>
                        act(
                          post<{ authorize_url?: string }>(`/api/mcp/sessions/${s.id}/reauth`).then(
                            (r) => r.authorize_url && window.open(r.authorize_url, '_blank'),
                          ),
                          'Re-authorization started',
                          sessions.reload,
                        )
                      }
                    >
                      Re-auth
                    </Button>
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      color="red"
                      onClick={() =>
                        act(del(`/api/mcp/sessions/${s.id}`), 'Session revoked', sessions.reload)
                      }
                    >
                      Revoke
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <AddServer opened={adding} onClose={() => setAdding(false)} onDone={reload} />
    </>
  )
}

function AddServer({
  opened,
  onClose,
  onDone,
}: {
  opened: boolean
  onClose: () => void
  onDone: () => void
}) {
  const [type, setType] = useState('http')
  const [name, setName] = useState('')
  const [target, setTarget] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async () => {
    setBusy(true)
    setError(undefined)
    try {
      const [command, ...args] = target.split(/\s+/).filter(Boolean)
      await post('/api/mcp/client', {
        name,
        connection_type: type,
        ...(type === 'stdio' ? { stdio_config: { command, args } } : { connection_string: target }),
        tools_to_execute: ['*'],
      })
      onDone()
      onClose()
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Modal opened={opened} onClose={onClose} title="Add MCP server">
      <Stack>
        <SegmentedControl data={['http', 'sse', 'stdio']} value={type} onChange={setType} />
        <TextInput
          label="Name"
          description="Letters, digits and _"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <TextInput
          label={type === 'stdio' ? 'Command' : 'URL'}
          placeholder={
            type === 'stdio'
              ? 'npx -y @modelcontextprotocol/server-everything'
              : 'https://mcp.example.com/mcp'
          }
          value={target}
          onChange={(e) => setTarget(e.currentTarget.value)}
        />
        <ErrorNote error={error} />
        <Button onClick={submit} loading={busy}>
          {busy ? 'Connecting…' : 'Add'}
        </Button>
      </Stack>
    </Modal>
  )
}
