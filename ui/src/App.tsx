import {
  ActionIcon,
  AppShell,
  Burger,
  Center,
  Group,
  Loader,
  NavLink,
  ScrollArea,
  Text,
  Title,
  Image,
  useComputedColorScheme,
  useMantineColorScheme,
} from '@mantine/core'
import { useDisclosure } from '@mantine/hooks'
import {
  IconChartBar,
  IconCurrencyDollar,
  IconTool,
  IconFlask,
  IconKey,
  IconList,
  IconLogout,
  IconMoon,
  IconPlug,
  IconSearch,
  IconServer,
  IconSettings,
  IconShieldLock,
  IconSun,
  IconUsers,
  IconUsersGroup,
  IconBuilding,
  IconRoute,
  IconGauge,
  IconHourglass,
  IconWebhook,
} from '@tabler/icons-react'
import { useCallback, useEffect, useState } from 'react'
import { Link, Navigate, Route, Routes, useLocation } from 'react-router-dom'
import { get, post } from './api'
import './contrast.css'
import { AccessProfilesPage } from './pages/AccessProfiles'
import { AsyncJobsPage } from './pages/AsyncJobs'
import { CustomersPage } from './pages/Customers'
import { DashboardPage } from './pages/Dashboard'
import { LoginPage } from './pages/Login'
import { NotFoundPage } from './pages/NotFound'
import { LogsPage } from './pages/Logs'
import { LookupPage } from './pages/Lookup'
import { McpLogsPage } from './pages/McpLogs'
import { ModelLimitsPage } from './pages/ModelLimits'
import { PricingPage } from './pages/Pricing'
import { ProviderAdvancedPage } from './pages/ProviderAdvanced'
import { McpPage } from './pages/Mcp'
import { PlaygroundPage } from './pages/Playground'
import { ProvidersPage } from './pages/Providers'
import { RoutingRulesPage } from './pages/RoutingRules'
import { SettingsPage } from './pages/Settings'
import { TeamsPage } from './pages/Teams'
import { UsersPage } from './pages/Users'
import { VirtualKeysPage } from './pages/VirtualKeys'
import { WebhooksPage } from './pages/Webhooks'

/** The sidebar: one line per page, a real link each (Tab, Enter, open in a new tab, copy its URL). */
const NAV = [
  { to: '/dashboard', label: 'Dashboard', icon: IconChartBar },
  { to: '/providers', label: 'Providers & keys', icon: IconServer },
  { to: '/virtual-keys', label: 'Virtual keys', icon: IconKey },
  { to: '/routing-rules', label: 'Routing rules', icon: IconRoute },
  { to: '/model-limits', label: 'Model & provider limits', icon: IconGauge },
  { to: '/teams', label: 'Teams', icon: IconUsersGroup },
  { to: '/customers', label: 'Customers', icon: IconBuilding },
  { to: '/users', label: 'Users', icon: IconUsers },
  { to: '/access-profiles', label: 'Access profiles', icon: IconShieldLock },
  { to: '/lookup', label: 'Email lookup', icon: IconSearch },
  { to: '/mcp-servers', label: 'MCP', icon: IconPlug },
  { to: '/logs', label: 'Logs', icon: IconList },
  { to: '/mcp-logs', label: 'MCP tool logs', icon: IconTool },
  { to: '/async-jobs', label: 'Async jobs', icon: IconHourglass },
  { to: '/webhooks', label: 'Webhooks', icon: IconWebhook },
  { to: '/pricing', label: 'Pricing overrides', icon: IconCurrencyDollar },
  { to: '/playground', label: 'Playground', icon: IconFlask },
  { to: '/settings', label: 'Settings', icon: IconSettings },
]

interface AuthState {
  is_auth_enabled: boolean
  has_valid_token: boolean
  /** Listening beyond loopback without an admin login: locked until set up. */
  setup_required?: boolean
}

export function App() {
  const [auth, setAuth] = useState<AuthState | undefined>(undefined)
  const check = useCallback(async () => {
    setAuth(await get<AuthState>('/api/session/is-auth-enabled'))
  }, [])
  useEffect(() => {
    void check()
    const onUnauthorized = () => setAuth((a) => (a ? { ...a, has_valid_token: false } : a))
    window.addEventListener('heimdall:unauthorized', onUnauthorized)
    return () => window.removeEventListener('heimdall:unauthorized', onUnauthorized)
  }, [check])

  if (!auth)
    return (
      <Center h="100vh">
        <Loader />
      </Center>
    )
  const signedIn = (!auth.is_auth_enabled && !auth.setup_required) || auth.has_valid_token
  return (
    <Routes>
      <Route
        path="/login"
        element={
          signedIn ? (
            <Navigate to="/dashboard" replace />
          ) : (
            <LoginPage onLogin={check} setup={auth.setup_required} />
          )
        }
      />
      <Route
        path="*"
        element={
          signedIn ? (
            <Shell authEnabled={auth.is_auth_enabled} onLogout={check} />
          ) : (
            <Navigate to="/login" replace />
          )
        }
      />
    </Routes>
  )
}

function Shell({ authEnabled, onLogout }: { authEnabled: boolean; onLogout: () => void }) {
  const [opened, { toggle, close }] = useDisclosure()
  const location = useLocation()
  const { setColorScheme } = useMantineColorScheme()
  const dark = useComputedColorScheme('light') === 'dark'
  const logout = async () => {
    await post('/api/session/logout').catch(() => undefined)
    onLogout()
  }
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="lg"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Image src="/favicon.svg" w={26} h={26} alt="" />
            <Title order={4}>Heimdall</Title>
          </Group>
          <Group gap="xs">
            <ActionIcon
              variant="default"
              size="lg"
              aria-label="Toggle color scheme"
              onClick={() => setColorScheme(dark ? 'light' : 'dark')}
            >
              {dark ? <IconSun size={18} /> : <IconMoon size={18} />}
            </ActionIcon>
            {authEnabled && (
              <ActionIcon variant="default" size="lg" aria-label="Sign out" onClick={logout}>
                <IconLogout size={18} />
              </ActionIcon>
            )}
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <ScrollArea>
          {NAV.map((item) => (
            <NavLink
              key={item.to}
              component={Link}
              to={item.to}
              label={item.label}
              leftSection={<item.icon size={18} stroke={1.6} />}
              active={location.pathname.startsWith(item.to)}
              aria-current={location.pathname.startsWith(item.to) ? 'page' : undefined}
              onClick={close}
              style={{ borderRadius: 8 }}
            />
          ))}
        </ScrollArea>
        <Text size="xs" c="dimmed" mt="auto" p="xs">
          Heimdall AI gateway
        </Text>
      </AppShell.Navbar>
      <AppShell.Main>
        <Routes>
          <Route path="/" element={<Navigate to="/dashboard" replace />} />
          <Route path="/dashboard" element={<DashboardPage />} />
          <Route path="/providers" element={<ProvidersPage />} />
          <Route path="/virtual-keys" element={<VirtualKeysPage />} />
          <Route path="/routing-rules" element={<RoutingRulesPage />} />
          <Route path="/model-limits" element={<ModelLimitsPage />} />
          <Route path="/teams" element={<TeamsPage />} />
          <Route path="/customers" element={<CustomersPage />} />
          <Route path="/users" element={<UsersPage />} />
          <Route path="/access-profiles" element={<AccessProfilesPage />} />
          <Route path="/lookup" element={<LookupPage />} />
          <Route path="/mcp-servers" element={<McpPage />} />
          <Route path="/logs" element={<LogsPage />} />
          <Route path="/mcp-logs" element={<McpLogsPage />} />
          <Route path="/async-jobs" element={<AsyncJobsPage />} />
          <Route path="/webhooks" element={<WebhooksPage />} />
          <Route path="/pricing" element={<PricingPage />} />
          <Route path="/providers/:name/advanced" element={<ProviderAdvancedPage />} />
          <Route path="/playground" element={<PlaygroundPage />} />
          <Route path="/settings" element={<SettingsPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  )
}
