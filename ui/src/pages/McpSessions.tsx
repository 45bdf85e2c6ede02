import { Badge, Button, Group, Text, Title } from '@mantine/core'
import { post } from '../api'
import { act } from '../components'
import { useApi } from '../hooks'
import { ListTable, RowButton, type Column } from '../list-page'

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
  const { data, error, loading, reload } = useApi<{ sessions: McpSession[] }>('/api/mcp/sessions')
  return (
    <>
      <Group mt="xl" mb="xs" justify="space-between">
        <Title order={4}>Per-user sessions</Title>
        <Button variant="default" size="xs" onClick={() => void reload()} loading={loading}>
          Refresh
        </Button>
      </Group>
      <Text size="sm" c="dimmed" mb="sm">
        Logins to OAuth MCP servers, held per user or per virtual key. Revoking one makes its next tool call
        ask for a new login.
      </Text>
      <ListTable
        rows={data?.sessions}
        error={error}
        what="sessions"
        empty={{
          title: 'No per-user session yet',
          hint: 'Users and keys sign in to an OAuth MCP server the first time they call one of its tools.',
        }}
        label="MCP sessions"
        minWidth={720}
        dense
        rowTestId="mcp-session"
        columns={COLUMNS}
        remove={(s) =>
          s.kind === 'token'
            ? {
                label: 'Revoke',
                path: `/api/mcp/sessions/${s.id}`,
                question: 'Revoke this login? The next tool call asks to log in again.',
                done: 'Session revoked',
              }
            : undefined
        }
        reload={reload}
        actions={(s) =>
          s.kind === 'token' &&
          s.can_reauth && (
            <RowButton
              label="Log in again"
              onClick={() =>
                void act(
                  async () => {
                    const r = await post<{ authorize_url: string }>(`/api/mcp/sessions/${s.id}/reauth`)
                    window.open(r.authorize_url, '_blank', 'noopener')
                  },
                  'Login opened in a new tab',
                  reload,
                )
              }
            />
          )
        }
      />
    </>
  )
}

const COLUMNS: Column<McpSession>[] = [
  { header: 'MCP server', cell: (s) => s.mcp_client?.name ?? '—' },
  { header: 'Held by', cell: (s) => owner(s).kind },
  { header: 'Name', cell: (s) => owner(s).name },
  {
    header: 'Status',
    cell: (s) => <Badge color={STATUS_COLOR[s.status] ?? 'gray'}>{s.status.replace('_', ' ')}</Badge>,
  },
  { header: 'Expires', cell: (s) => (s.expires_at ? new Date(s.expires_at).toLocaleString() : '—') },
]
