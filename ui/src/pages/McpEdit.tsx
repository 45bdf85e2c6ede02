import { Button, NumberInput, Stack, Switch, TagsInput, Textarea, TextInput } from '@mantine/core'
import { useState } from 'react'
import { put } from '../api'
import { ErrorNote, FormDialog } from '../components'
import { useSubmit } from '../form'

export interface McpServerConfig {
  client_id: string
  name: string
  connection_type: string
  connection_string?: string
  stdio_config?: { command: string; args: string[] }
  headers?: Record<string, string>
  tools_to_execute: string[]
  tools_to_auto_execute?: string[]
  tool_execution_timeout?: number
  disabled?: boolean
  allow_on_all_virtual_keys?: boolean
  auth_type: string
}

/** "Name: value" lines, as the headers field shows them. */
const headerLines = (h: Record<string, string> | undefined) =>
  Object.entries(h ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n')

export function parseHeaderLines(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.split(/:(.*)/s).map((p) => p.trim()))
      .filter(([k, v]) => k && v),
  )
}

/** Edits what may change on a server after it was added (PUT /api/mcp/client/{id}); the connection is fixed. */
export function EditServer({
  config: c,
  onClose,
  onDone,
}: {
  config: McpServerConfig
  onClose: () => void
  onDone: () => void
}) {
  const [name, setName] = useState(c.name)
  const [headers, setHeaders] = useState(headerLines(c.headers))
  const [tools, setTools] = useState(c.tools_to_execute)
  const [auto, setAuto] = useState(c.tools_to_auto_execute ?? [])
  const [timeout, setTimeoutValue] = useState<number | string>(c.tool_execution_timeout || '')
  const [disabled, setDisabled] = useState(!!c.disabled)
  const [allKeys, setAllKeys] = useState(!!c.allow_on_all_virtual_keys)
  const form = useSubmit([
    'name',
    'headers',
    'tools_to_execute',
    'tools_to_auto_execute',
    'tool_execution_timeout',
  ])
  const submit = () =>
    form.run(async () => {
      await put(`/api/mcp/client/${encodeURIComponent(c.client_id)}`, {
        name,
        ...(c.auth_type === 'headers' || headers.trim() ? { headers: parseHeaderLines(headers) } : {}),
        tools_to_execute: tools,
        tools_to_auto_execute: auto,
        tool_execution_timeout: typeof timeout === 'number' ? timeout : 0,
        disabled,
        allow_on_all_virtual_keys: allKeys,
      })
      onDone()
      onClose()
    })
  return (
    <FormDialog onClose={onClose} title={`Edit ${c.name}`} size="lg" onSubmit={() => void submit()}>
      <Stack>
        <TextInput
          label="Name"
          description="Letters, digits and _; renaming renames its tools (<name>-<tool>)"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={form.errorFor('name')}
          name="mcp-edit-name"
        />
        <TextInput
          label={c.connection_type === 'stdio' ? 'Command' : 'URL'}
          description="Fixed once added: to change it, add the server again"
          value={
            c.connection_string ??
            [c.stdio_config?.command, ...(c.stdio_config?.args ?? [])].filter(Boolean).join(' ')
          }
          readOnly
          variant="filled"
        />
        {c.connection_type !== 'stdio' && c.auth_type !== 'per_user_oauth' && (
          <HeadersField
            value={headers}
            onChange={setHeaders}
            error={form.errorFor('headers')}
            description="One per line, Name: value. Secrets show masked; a masked value left as it is stays unchanged"
          />
        )}
        <ToolsField value={tools} onChange={setTools} error={form.errorFor('tools_to_execute')} />
        <TagsInput
          label="Tools run without asking"
          description="Tools an agent loop may run on its own; * for all"
          value={auto}
          onChange={setAuto}
          error={form.errorFor('tools_to_auto_execute')}
        />
        <NumberInput
          label="Tool timeout (seconds)"
          description="Empty: the gateway's default"
          min={0}
          allowDecimal={false}
          value={timeout}
          onChange={setTimeoutValue}
          error={form.errorFor('tool_execution_timeout')}
        />
        <Switch
          label="Every virtual key may use it"
          checked={allKeys}
          onChange={(e) => setAllKeys(e.currentTarget.checked)}
        />
        <Switch label="Disabled" checked={disabled} onChange={(e) => setDisabled(e.currentTarget.checked)} />
        <ErrorNote error={form.general} />
        <Button type="submit" loading={form.busy}>
          Save
        </Button>
      </Stack>
    </FormDialog>
  )
}

/** A server's request headers, one `Name: value` a line. */
export function HeadersField({
  value,
  onChange,
  error,
  label = 'Headers',
  description = 'One per line, Name: value',
}: {
  value: string
  onChange: (value: string) => void
  error?: string
  label?: string
  description?: string
}) {
  return (
    <Textarea
      label={label}
      description={description}
      placeholder="Authorization: Bearer …"
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      autosize
      minRows={2}
      error={error}
    />
  )
}

/** Which of a server's tools virtual keys may call. */
export function ToolsField({
  value,
  onChange,
  error,
}: {
  value: string[]
  onChange: (value: string[]) => void
  error?: string
}) {
  return (
    <TagsInput
      label="Tools keys may call"
      description="* for all; empty allows none"
      value={value}
      onChange={onChange}
      error={error}
    />
  )
}
