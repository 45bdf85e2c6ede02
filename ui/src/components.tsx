import { Alert, Button, Center, Group, Paper, Popover, Stack, Text, Title } from '@mantine/core'
import { notifications } from '@mantine/notifications'
import { IconAlertCircle } from '@tabler/icons-react'
import { useState, type ReactNode } from 'react'
import { errorText } from './api'

export function PageHeader({
  title,
  description,
  actions,
}: {
  title: string
  description?: string
  actions?: ReactNode
}) {
  return (
    <Group justify="space-between" align="flex-start" mb="lg" wrap="wrap">
      <div>
        <Title order={2}>{title}</Title>
        {description && (
          <Text c="dimmed" size="sm" mt={4}>
            {description}
          </Text>
        )}
      </div>
      {actions && <Group gap="sm">{actions}</Group>}
    </Group>
  )
}

export function ErrorNote({ error }: { error?: string }) {
  if (!error) return null
  return (
    <Alert color="red" icon={<IconAlertCircle size={18} />} mb="md" role="alert">
      {error}
    </Alert>
  )
}

export function Empty({ title, hint }: { title: string; hint: string }) {
  return (
    <Paper withBorder p="xl" radius="md">
      <Center>
        <Stack gap={4} align="center">
          <Text fw={600}>{title}</Text>
          <Text c="dimmed" size="sm" ta="center">
            {hint}
          </Text>
        </Stack>
      </Center>
    </Paper>
  )
}

/** A destructive action that asks once more, in place, before it runs. */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  size = 'compact-xs',
}: {
  label: string
  question: string
  onConfirm: () => void
  size?: string
}) {
  const [opened, setOpened] = useState(false)
  return (
    <Popover opened={opened} onChange={setOpened} withArrow shadow="md" position="bottom-end">
      <Popover.Target>
        <Button size={size} variant="subtle" color="red" onClick={() => setOpened((o) => !o)}>
          {label}
        </Button>
      </Popover.Target>
      <Popover.Dropdown>
        <Stack gap="xs" maw={260}>
          <Text size="sm">{question}</Text>
          <Group gap="xs" justify="flex-end">
            <Button size="compact-sm" variant="default" onClick={() => setOpened(false)}>
              Cancel
            </Button>
            <Button
              size="compact-sm"
              color="red"
              onClick={() => {
                setOpened(false)
                onConfirm()
              }}
            >
              Yes, {label.toLowerCase()}
            </Button>
          </Group>
        </Stack>
      </Popover.Dropdown>
    </Popover>
  )
}

/** Runs an action from a list row and reports its outcome as a notification. */
export async function act(what: () => Promise<unknown>, done: string, then?: () => unknown) {
  try {
    await what()
    notifications.show({ color: 'green', message: done })
    await then?.()
  } catch (err) {
    notifications.show({ color: 'red', title: 'That did not work', message: errorText(err) })
  }
}
