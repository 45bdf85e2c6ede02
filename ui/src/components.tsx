import {
  ActionIcon,
  Alert,
  Button,
  Center,
  Group,
  Loader,
  Modal,
  Paper,
  Popover,
  Stack,
  Text,
  Title,
  type ModalProps,
} from '@mantine/core'
import { useMediaQuery } from '@mantine/hooks'
import { notifications } from '@mantine/notifications'
import { IconAlertCircle, IconArrowsHorizontal, IconTrash } from '@tabler/icons-react'
import { useEffect, useRef, useState, type ReactNode } from 'react'
import { errorText } from './api'
import { useDocumentTitle } from './hooks'

export function PageHeader({
  title,
  description,
  actions,
}: {
  title: string
  description?: string
  actions?: ReactNode
}) {
  useDocumentTitle(title)
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
  color = 'red',
}: {
  label: string
  question: string
  onConfirm: () => void
  size?: string
  /** Red for what destroys; another colour for what only replaces (a key's rotation). */
  color?: string
}) {
  const [opened, setOpened] = useState(false)
  return (
    <Popover opened={opened} onChange={setOpened} withArrow shadow="md" position="bottom-end">
      <Popover.Target>
        <Button size={size} variant="subtle" color={color} onClick={() => setOpened((o) => !o)}>
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
              color={color}
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

/** What a list shows while its first answer is on the way. */
export function Loading({ what }: { what: string }) {
  return (
    <Center py="xl" role="status" data-testid="loading">
      <Group gap="sm">
        <Loader size="sm" />
        <Text size="sm" c="dimmed">
          Loading {what}…
        </Text>
      </Group>
    </Center>
  )
}

/** Phones: dialogs take the whole screen there. */
export const usePhone = () => useMediaQuery('(max-width: 36em)') ?? false

/**
 * A dialog holding a form: Enter submits it, and on a phone it fills the screen so that its
 * fields keep a usable width.
 */
export function FormDialog({
  onSubmit,
  children,
  ...modal
}: Omit<ModalProps, 'opened'> & { onSubmit: () => void; children: ReactNode }) {
  const phone = usePhone()
  return (
    <Modal opened fullScreen={phone} closeButtonProps={{ 'aria-label': 'Close' }} {...modal}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault()
          onSubmit()
        }}
      >
        {children}
      </form>
    </Modal>
  )
}

/**
 * A wide table in a box that scrolls sideways, with a hint while columns are out of sight (the
 * box is focusable, so that a keyboard can scroll it too).
 */
export function WideTable({
  minWidth,
  label,
  children,
}: {
  minWidth: number
  label: string
  children: ReactNode
}) {
  const box = useRef<HTMLDivElement>(null)
  const [clipped, setClipped] = useState(false)
  useEffect(() => {
    const el = box.current
    if (!el) return
    const measure = () => setClipped(el.scrollWidth - el.clientWidth - el.scrollLeft > 4)
    measure()
    const observer = new ResizeObserver(measure)
    observer.observe(el)
    el.addEventListener('scroll', measure, { passive: true })
    return () => {
      observer.disconnect()
      el.removeEventListener('scroll', measure)
    }
  }, [])
  return (
    <>
      {clipped && (
        <Group gap={4} c="dimmed" mb={4} data-testid="scroll-hint">
          <IconArrowsHorizontal size={14} aria-hidden />
          <Text size="xs">Scroll sideways to see every column</Text>
        </Group>
      )}
      <div ref={box} tabIndex={0} role="region" aria-label={label} style={{ overflowX: 'auto' }}>
        <div style={{ minWidth }}>{children}</div>
      </div>
    </>
  )
}

/** A field's problem beside a group of inputs that has no error slot of its own. */
export function FieldError({ error }: { error?: string }) {
  if (!error) return null
  return (
    <Text size="sm" c="red" data-field-error role="alert">
      {error}
    </Text>
  )
}

/** The bin at the end of an editable row (a budget, a provider, a target), named after what it removes. */
export function RemoveRowButton({
  label,
  onClick,
  disabled,
  mt,
  mb,
}: {
  label: string
  onClick: () => void
  disabled?: boolean
  mt?: number
  mb?: number
}) {
  return (
    <ActionIcon
      variant="subtle"
      color="red"
      size="lg"
      mt={mt}
      mb={mb}
      aria-label={label}
      disabled={disabled}
      onClick={onClick}
    >
      <IconTrash size={16} />
    </ActionIcon>
  )
}

/** Under editable rows: the rows' problem, then the button that adds one, with a note beside it. */
export function AddRowFooter({
  error,
  label,
  onAdd,
  disabled,
  children,
}: {
  error?: string
  label: string
  onAdd: () => void
  disabled?: boolean
  children?: ReactNode
}) {
  return (
    <>
      <FieldError error={error} />
      <Group>
        <Button size="compact-sm" variant="light" disabled={disabled} onClick={onAdd}>
          {label}
        </Button>
        {children}
      </Group>
    </>
  )
}
