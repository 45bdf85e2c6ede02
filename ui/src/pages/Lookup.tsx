import { Button, Code, Group, Paper, Stack, Text, TextInput } from '@mantine/core'
import { useState } from 'react'
import { errorText, get } from '../api'
import { ErrorNote, PageHeader } from '../components'

export function LookupPage() {
  const [email, setEmail] = useState('')
  const [result, setResult] = useState<{ user: unknown; keys: unknown }>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const search = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    setResult(undefined)
    try {
      const enc = encodeURIComponent(email)
      const [user, keys] = await Promise.all([
        get(`/api/users/email/${enc}`),
        get(`/api/users/email/${enc}/virtual-keys`),
      ])
      setResult({ user, keys })
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
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            style={{ flex: 1 }}
            required
          />
          <Button type="submit" loading={busy}>
            Look up
          </Button>
        </Group>
      </form>
      <Stack mt="md">
        <ErrorNote error={error} />
        {result && (
          <Paper withBorder p="md">
            <Text fw={600} mb="xs">
              User
            </Text>
            <Code block>{JSON.stringify(result.user, null, 2)}</Code>
            <Text fw={600} my="xs">
              Virtual keys
            </Text>
            <Code block>{JSON.stringify(result.keys, null, 2)}</Code>
          </Paper>
        )}
      </Stack>
    </>
  )
}
