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

/**
 * Sign-in; or, on a gateway listening beyond loopback without an admin login yet (`setup`), the
 * first-run setup: the admin login, with the one-time token the gateway printed at start.
 */
export function LoginPage({ onLogin, setup = false }: { onLogin: () => Promise<void>; setup?: boolean }) {
  const [setupToken, setSetupToken] = useState('')
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    try {
      // The answer sets the HttpOnly session cookie; its token is for API clients, not kept here.
      if (setup)
        await api('POST', '/api/session/setup', {
          setup_token: setupToken,
          admin_username: username,
          admin_password: password,
        })
      else await api('POST', '/api/session/login', { username, password })
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
                {setup
                  ? 'Set the admin login. The setup token is in the gateway’s log, printed at start.'
                  : 'Sign in with the admin credentials from auth_config.'}
              </Text>
            </div>
            <ErrorNote error={error} />
            {setup && (
              <PasswordInput
                label="Setup token"
                name="setup_token"
                value={setupToken}
                onChange={(e) => setSetupToken(e.currentTarget.value)}
                required
                autoFocus
              />
            )}
            <TextInput
              label="Username"
              name="username"
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
              required
              autoFocus={!setup}
            />
            <PasswordInput
              label="Password"
              name="password"
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              required
            />
            <Button type="submit" loading={busy} fullWidth>
              {setup ? 'Set up' : 'Sign in'}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  )
}
