import { Alert, Center, Group, Paper, Stack, Text, Title } from '@mantine/core'
import { IconAlertCircle } from '@tabler/icons-react'
import type { ReactNode } from 'react'

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
