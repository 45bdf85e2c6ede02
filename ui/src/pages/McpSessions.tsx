import { Badge, Button, Group, PasswordInput, Table, Text, Title } from '@mantine/core'
import { useCallback, useEffect, useState } from 'react'
import { api, errorText } from '../api'
import { act, ConfirmButton, ErrorNote, Loading, WideTable } from '../components'

interface McpSession {
  id: string
  kind: 'token' | 'flow'
  status: 'active' | 'orphaned' | 'needs_reauth' | 'pending'
  can_reauth: boolean
  user?: { name: string }
  virtual_key?: { name: string }
  mcp_client?: { name: string }
  session_id?: string
  expires_at?: string
  last_refreshed_at?: string
}

const STATUS_COLOR: Record<string, string> = {
  active: 'green',
  pending: 'yellow',
  needs_reauth: 'orange',
  orphaned: 'gray',
}

/**
 * Per-user MCP credentials. The API answers the caller's own sessions: an admin sees those of a
 * virtual key by asking with that key, which this panel sends as `x-bf-vk`.
 */
export function McpSessions() {
  const [vk, setVk] = useState('')
  const [asKey, setAsKey] = useState('')
  const [sessions, setSessions] = useState<McpSession[]>()
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(false)
  const withKey = useCallback(
    <T,>(method: string, path: string) =>
      api<T>(method, path, method === 'POST' ? {} : undefined, asKey ? { 'x-bf-vk': asKey } : {}),
    [asKey],
  )
  const load = useCallback(async () => {
    setLoading(true)
    try {
      setSessions((await withKey<{ sessions: McpSession[] }>('GET', '/api/mcp/sessions')).sessions)
      setError(undefined)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setLoading(false)
    }
  }, [withKey])
  useEffect(() => {
    void load()
  }, [load])
  return (
    <>
      <Title order={4} mt="xl" mb="xs">
        Per-user sessions
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        Logins to OAuth MCP servers, held per user or per virtual key. Paste a virtual key to see its
        sessions.
      </Text>
      <Group mb="sm" align="flex-end">
        <PasswordInput
          label="Virtual key"
          placeholder="sk-bf-…"
          value={vk}
          onChange={(e) => setVk(e.currentTarget.value)}
          w={340}
          name="sessions-vk"
        />
        <Button variant="default" onClick={() => setAsKey(vk.trim())}>
          Show sessions
        </Button>
      </Group>
      <ErrorNote error={error} />
      {loading && !sessions && <Loading what="sessions" />}
      {sessions && sessions.length === 0 && (
        <Text c="dimmed" size="sm">
          No per-user session{asKey ? ' for this key' : ''}. Users sign in to an OAuth MCP server the first
          time they call one of its tools.
        </Text>
      )}
      {sessions && sessions.length > 0 && (
        <WideTable minWidth={640} label="MCP sessions">
          <Table verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>MCP server</Table.Th>
                <Table.Th>For</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sessions.map((s) => (
                <Table.Tr key={s.id} data-testid="mcp-session">
                  <Table.Td>{s.mcp_client?.name ?? '—'}</Table.Td>
                  <Table.Td>{s.user?.name ?? s.virtual_key?.name ?? s.session_id ?? '—'}</Table.Td>
                  <Table.Td>
                    <Badge color={STATUS_COLOR[s.status] ?? 'gray'}>{s.status.replace('_', ' ')}</Badge>
                  </Table.Td>
                  <Table.Td>{s.expires_at ? new Date(s.expires_at).toLocaleString() : '—'}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      {s.kind === 'token' && s.can_reauth && (
                        <Button
                          size="compact-xs"
                          variant="light"
                          onClick={() =>
                            act(
                              async () => {
                                const r = await withKey<{ authorize_url: string }>(
                                  'POST',
                                  `/api/mcp/sessions/${s.id}/reauth`,
                                )
                                window.open(r.authorize_url, '_blank', 'noopener')
                              },
                              'Login opened in a new tab',
                              load,
                            )
                          }
                        >
                          Log in again
                        </Button>
                      )}
                      {s.kind === 'token' && (
                        <ConfirmButton
                          label="Revoke"
                          question="Revoke this login? The next tool call asks to log in again."
                          onConfirm={() =>
                            act(() => withKey('DELETE', `/api/mcp/sessions/${s.id}`), 'Session revoked', load)
                          }
                        />
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
    </>
  )
}
