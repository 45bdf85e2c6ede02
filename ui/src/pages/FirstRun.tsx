import { Anchor, List, Paper, Text, ThemeIcon, Title } from '@mantine/core'
import { IconCheck, IconCircleDashed } from '@tabler/icons-react'
import { Link } from 'react-router-dom'
import { useApi } from '../hooks'

/**
 * The first steps of a new gateway, each ticked from the real state: a provider, a virtual key, a
 * request in the logs. Shown until all three are done; `null` while unknown or once done.
 */
export function FirstRunChecklist() {
  const providers = useApi<{ providers: unknown[] }>('/api/providers')
  const keys = useApi<{ virtual_keys: unknown[] }>('/api/governance/virtual-keys')
  const logs = useApi<{ pagination: { total_count: number } }>('/api/logs?limit=1')
  if (!providers.data || (!keys.data && !keys.error) || (!logs.data && !logs.error)) return null
  const steps = [
    {
      done: providers.data.providers.length > 0,
      to: '/providers',
      label: 'Add a provider',
      hint: 'an upstream such as OpenAI, Anthropic, Azure or Bedrock, with its key',
    },
    {
      done: (keys.data?.virtual_keys.length ?? 0) > 0,
      to: '/virtual-keys',
      label: 'Create a virtual key',
      hint: 'what your applications send instead of the provider key',
    },
    {
      done: (logs.data?.pagination.total_count ?? 0) > 0,
      to: '/playground',
      label: 'Try it in the Playground',
      hint: 'send a first request; it appears here and in the logs',
    },
  ]
  if (steps.every((s) => s.done)) return null
  const next = steps.find((s) => !s.done)
  return (
    <Paper withBorder p="lg" radius="md" mb="lg" data-testid="first-run">
      <Title order={4}>Get started</Title>
      <Text size="sm" c="dimmed" mb="sm">
        {steps.filter((s) => s.done).length} of {steps.length} done
      </Text>
      <List spacing="xs" center>
        {steps.map((s) => (
          <List.Item
            key={s.to}
            data-done={s.done}
            icon={
              <ThemeIcon
                color={s.done ? 'teal' : 'gray'}
                variant={s.done ? 'filled' : 'light'}
                size={22}
                radius="xl"
              >
                {s.done ? (
                  <IconCheck size={14} aria-label="done" />
                ) : (
                  <IconCircleDashed size={14} aria-label="to do" />
                )}
              </ThemeIcon>
            }
          >
            {s === next ? (
              <Anchor component={Link} to={s.to} fw={600}>
                {s.label}
              </Anchor>
            ) : (
              <Text span td={s.done ? 'line-through' : undefined} c={s.done ? 'dimmed' : undefined}>
                {s.label}
              </Text>
            )}
            <Text span size="sm" c="dimmed">
              {' '}
              — {s.hint}
            </Text>
          </List.Item>
        ))}
      </List>
    </Paper>
  )
}
