import {
  Button,
  Center,
  Group,
  Image,
  Paper,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core'
import { useState } from 'react'
import { api, errorText } from '../api'
import { ErrorNote } from '../components'

export function LoginPage({ onLogin }: { onLogin: () => Promise<void> }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    try {
      // The answer sets the HttpOnly session cookie; its token is for API clients, not kept here.
      await api('POST', '/api/session/login', { username, password })
      await onLogin()
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Center mih="100vh" p="md" bg="var(--mantine-color-body)">
      <Paper withBorder shadow="md" p="xl" radius="lg" w={380} maw="100%">
        <form onSubmit={submit}>
          <Stack>
            <div>
              <Group gap="xs">
                <Image src="/favicon.svg" w={30} h={30} alt="" />
                <Title order={2}>Heimdall</Title>
              </Group>
              <Text c="dimmed" size="sm">
                Sign in with the admin credentials from auth_config.
              </Text>
            </div>
            <ErrorNote error={error} />
            <TextInput
              label="Username"
              name="username"
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
              required
              autoFocus
            />
            <PasswordInput
              label="Password"
              name="password"
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              required
            />
            <Button type="submit" loading={busy} fullWidth>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  )
}
