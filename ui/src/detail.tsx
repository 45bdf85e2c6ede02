import { ActionIcon, Code, CopyButton, Drawer, Group, Text, Tooltip } from '@mantine/core'
import { IconCheck, IconCopy } from '@tabler/icons-react'
import type { ReactNode } from 'react'
import { ErrorNote } from './components'

/** A labelled value in a detail panel; with `copy`, a button copies the raw value. */
export function Field({ label, value, copy }: { label: string; value: string; copy?: string }) {
  return (
    <div style={{ minWidth: 0 }}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Group gap={4} wrap="nowrap">
        <Text size="sm" fw={500} truncate title={value} data-testid={`field-${label}`}>
          {value}
        </Text>
        {copy !== undefined && <CopyValue value={copy} label={label} />}
      </Group>
    </div>
  )
}

/** A small button that copies `value`, and says so for a moment. */
export function CopyValue({ value, label }: { value: string; label: string }) {
  return (
    <CopyButton value={value} timeout={1500}>
      {({ copied, copy }) => (
        <Tooltip label={copied ? 'Copied' : `Copy ${label.toLowerCase()}`} withArrow>
          <ActionIcon
            size="sm"
            variant="subtle"
            color={copied ? 'teal' : 'gray'}
            onClick={copy}
            aria-label={`Copy ${label.toLowerCase()}`}
          >
            {copied ? <IconCheck size={14} /> : <IconCopy size={14} />}
          </ActionIcon>
        </Tooltip>
      )}
    </CopyButton>
  )
}

/** JSON in a box of its own: long or wide content scrolls inside it, never the page around it. */
export function JsonBox({
  value,
  label,
  maxHeight = 320,
}: {
  value: unknown
  label: string
  maxHeight?: number
}) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2)
  return (
    <div style={{ minWidth: 0 }}>
      <Group justify="space-between" mb={4}>
        <Text size="sm" fw={600}>
          {label}
        </Text>
        <CopyValue value={text} label={label} />
      </Group>
      {/* Focusable, so that a keyboard can scroll it too. */}
      <div
        tabIndex={0}
        role="region"
        aria-label={label}
        style={{ maxHeight, overflow: 'auto', borderRadius: 'var(--mantine-radius-sm)' }}
        data-testid={`json-${label.toLowerCase()}`}
      >
        <Code block style={{ whiteSpace: 'pre', width: 'max-content', minWidth: '100%' }}>
          {text}
        </Code>
      </div>
    </div>
  )
}

/** A log entry's side panel, open while the list's URL names an entry (`?entry=…`). */
export function EntryDrawer({
  id,
  onClose,
  title,
  error,
  fill = false,
  children,
}: {
  id?: string
  onClose: () => void
  title: string
  error?: string
  /** The body fills the panel's height (its boxes scroll inside it). */
  fill?: boolean
  children: ReactNode
}) {
  return (
    <Drawer
      opened={!!id}
      onClose={onClose}
      position="right"
      size="xl"
      title={title}
      closeButtonProps={{ 'aria-label': 'Close' }}
      styles={
        fill
          ? { content: { display: 'flex', flexDirection: 'column' }, body: { minWidth: 0, flex: 1 } }
          : undefined
      }
    >
      <ErrorNote error={error} />
      {children}
    </Drawer>
  )
}
