import {
  Accordion,
  Button,
  Center,
  Code,
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
import { CopyValue } from '../detail'
import { bindText } from '../form'

/** The admin password's least length, as the gateway checks it. */
const MIN_PASSWORD = 12

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
    if (setup && password.length < MIN_PASSWORD) {
      setError(`The password needs at least ${MIN_PASSWORD} characters.`)
      return
    }
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
                {...bindText(setupToken, setSetupToken)}
                required
                autoFocus
              />
            )}
            <TextInput
              label="Username"
              name="username"
              {...bindText(username, setUsername)}
              required
              autoFocus={!setup}
            />
            <PasswordInput label="Password" name="password" {...bindText(password, setPassword)} required />
            <Button type="submit" loading={busy} fullWidth>
              {setup ? 'Set up' : 'Sign in'}
            </Button>
            <LoginHint setup={setup} />
          </Stack>
        </form>
      </Paper>
    </Center>
  )
}

/** Where the admin login (or the setup token) comes from, with the commands to find or set it. */
function LoginHint({ setup }: { setup: boolean }) {
  const find = 'grep setup_token <the gateway log>'
  const env = 'HEIMDALL_ADMIN_USERNAME=admin HEIMDALL_ADMIN_PASSWORD=<12+ characters> npm start'
  return (
    <Accordion variant="default" data-testid="login-hint">
      <Accordion.Item value="hint">
        <Accordion.Control>
          {setup ? 'Where is the setup token?' : 'Where does the admin login come from?'}
        </Accordion.Control>
        <Accordion.Panel>
          <Stack gap="xs">
            {setup ? (
              <Text size="sm">
                The gateway printed it once at start, in a warning that begins “No admin login is set”. Search
                its log for it, or set <Code>HEIMDALL_SETUP_TOKEN</Code> before starting to choose the token
                yourself. The password needs at least {MIN_PASSWORD} characters.
              </Text>
            ) : (
              <Text size="sm">
                It is the login set on this page at first setup, or <Code>auth_config.admin_username</Code>{' '}
                and <Code>admin_password</Code> in config.json, or these variables at start:
              </Text>
            )}
            <Group gap={4} wrap="nowrap">
              <Code style={{ overflowWrap: 'anywhere' }}>{setup ? find : env}</Code>
              <CopyValue value={setup ? find : env} label="Command" />
            </Group>
          </Stack>
        </Accordion.Panel>
      </Accordion.Item>
    </Accordion>
  )
}
