import { Badge, Button, Code, Group, Paper, Stack, Table, Text, TextInput } from '@mantine/core'
import { useState } from 'react'
import { errorText, get } from '../api'
import { ErrorNote, PageHeader } from '../components'
import { bindText } from '../form'

interface Found {
  user: { id: string; name: string; email: string; role?: { name?: string } | null }
  keys: { id: string; name: string; value: string; is_active: boolean }[]
}

export function LookupPage() {
  const [email, setEmail] = useState('')
  const [result, setResult] = useState<Found>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const search = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    setResult(undefined)
    try {
      const enc = encodeURIComponent(email.trim())
      const [{ user }, { virtual_keys }] = await Promise.all([
        get<{ user: Found['user'] }>(`/api/users/email/${enc}`),
        get<{ virtual_keys: Found['keys'] }>(`/api/users/email/${enc}/virtual-keys`),
      ])
      setResult({ user, keys: virtual_keys })
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <PageHeader title="Email lookup" description="Find a user by email, with their virtual keys." />
      <form onSubmit={search}>
        <Group align="flex-end" maw={560}>
          <TextInput
            label="Email"
            type="email"
            placeholder="ada@example.com"
            {...bindText(email, setEmail)}
            style={{ flex: 1 }}
            required
          />
          <Button type="submit" loading={busy}>
            Look up
          </Button>
        </Group>
      </form>
      <Stack mt="md" maw={760}>
        <ErrorNote error={error} />
        {result && (
          <Paper withBorder p="md" data-testid="lookup-result">
            <Text fw={600}>{result.user.name}</Text>
            <Text size="sm" c="dimmed">
              {result.user.email}
              {result.user.role?.name ? ` · ${result.user.role.name}` : ''}
            </Text>
            {result.keys.length === 0 ? (
              <Text size="sm" mt="sm">
                No virtual key: give this user an access profile on the Users page.
              </Text>
            ) : (
              <Table mt="sm">
                <Table.Tbody>
                  {result.keys.map((k) => (
                    <Table.Tr key={k.id}>
                      <Table.Td fw={500}>{k.name}</Table.Td>
                      <Table.Td>
                        <Code>{k.value}</Code>
                      </Table.Td>
                      <Table.Td>
                        <Badge color={k.is_active ? 'green' : 'gray'}>
                          {k.is_active ? 'active' : 'inactive'}
                        </Badge>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Paper>
        )}
      </Stack>
    </>
  )
}
