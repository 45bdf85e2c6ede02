import { Badge, Button, Group, Table, Text, Title } from '@mantine/core'
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

/** Whom a login belongs to, in words. */
function owner(s: McpSession): { kind: string; name: string } {
  if (s.user) return { kind: 'User', name: s.user.name }
  if (s.virtual_key) return { kind: 'Virtual key', name: s.virtual_key.name || '(deleted key)' }
  if (s.session_id) return { kind: 'MCP session', name: s.session_id }
  return { kind: '—', name: '—' }
}

/**
 * Per-user MCP credentials of every user and virtual key: the admin's `GET /api/mcp/sessions`
 * lists them all (never their tokens), with revoke and a new login link.
 */
export function McpSessions() {
  const [sessions, setSessions] = useState<McpSession[]>()
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(false)
  const call = useCallback(
    <T,>(method: string, path: string) => api<T>(method, path, method === 'POST' ? {} : undefined),
    [],
  )
  const load = useCallback(async () => {
    setLoading(true)
    try {
      setSessions((await call<{ sessions: McpSession[] }>('GET', '/api/mcp/sessions')).sessions)
      setError(undefined)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setLoading(false)
    }
  }, [call])
  useEffect(() => {
    void load()
  }, [load])
  return (
    <>
      <Group mt="xl" mb="xs" justify="space-between">
        <Title order={4}>Per-user sessions</Title>
        <Button variant="default" size="xs" onClick={() => void load()} loading={loading}>
          Refresh
        </Button>
      </Group>
      <Text size="sm" c="dimmed" mb="sm">
        Logins to OAuth MCP servers, held per user or per virtual key. Revoking one makes its next tool call
        ask for a new login.
      </Text>
      <ErrorNote error={error} />
      {loading && !sessions && <Loading what="sessions" />}
      {sessions && sessions.length === 0 && (
        <Text c="dimmed" size="sm">
          No per-user session yet. Users and keys sign in to an OAuth MCP server the first time they call one
          of its tools.
        </Text>
      )}
      {sessions && sessions.length > 0 && (
        <WideTable minWidth={720} label="MCP sessions">
          <Table verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>MCP server</Table.Th>
                <Table.Th>Held by</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sessions.map((s) => (
                <Table.Tr key={s.id} data-testid="mcp-session">
                  <Table.Td>{s.mcp_client?.name ?? '—'}</Table.Td>
                  <Table.Td>{owner(s).kind}</Table.Td>
                  <Table.Td>{owner(s).name}</Table.Td>
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
                                const r = await call<{ authorize_url: string }>(
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
                            act(() => call('DELETE', `/api/mcp/sessions/${s.id}`), 'Session revoked', load)
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
