import { NumberInput, Switch, TagsInput, Textarea, TextInput } from '@mantine/core'
import { useState } from 'react'
import { put } from '../api'
import { EditDialog, type DialogProps, NameField } from '../list-page'
import { bindChecked, useSubmit } from '../form'

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
  ...dialog
}: {
  config: McpServerConfig
} & DialogProps) {
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
  const save = async () => {
    await put(`/api/mcp/client/${encodeURIComponent(c.client_id)}`, {
      name,
      ...(c.auth_type === 'headers' || headers.trim() ? { headers: parseHeaderLines(headers) } : {}),
      tools_to_execute: tools,
      tools_to_auto_execute: auto,
      tool_execution_timeout: typeof timeout === 'number' ? timeout : 0,
      disabled,
      allow_on_all_virtual_keys: allKeys,
    })
  }
  return (
    <EditDialog {...dialog} form={form} save={save} title={`Edit ${c.name}`} size="lg" submitLabel="Save">
      <ServerNameField renaming {...form.bind('name', name, setName)} />
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
          {...form.bind('headers', headers, setHeaders)}
          description="One per line, Name: value. Secrets show masked; a masked value left as it is stays unchanged"
        />
      )}
      <ToolsField {...form.bind('tools_to_execute', tools, setTools)} />
      <ToolsField auto {...form.bind('tools_to_auto_execute', auto, setAuto)} />
      <NumberInput
        label="Tool timeout (seconds)"
        description="Empty: the gateway's default"
        min={0}
        allowDecimal={false}
        {...form.bind('tool_execution_timeout', timeout, setTimeoutValue)}
      />
      <Switch label="Every virtual key may use it" {...bindChecked(allKeys, setAllKeys)} />
      <Switch label="Disabled" {...bindChecked(disabled, setDisabled)} />
    </EditDialog>
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

/** Which of a server's tools virtual keys may call (or, `auto`, an agent loop may run without asking). */
export function ToolsField({
  auto = false,
  ...field
}: {
  value: string[]
  onChange: (value: string[]) => void
  error?: string
  auto?: boolean
}) {
  return auto ? (
    <TagsInput
      label="Tools run without asking"
      description="Tools an agent loop may run on its own; * for all"
      {...field}
    />
  ) : (
    <TagsInput label="Tools keys may call" description="* for all; empty allows none" {...field} />
  )
}

/** A server's name, which prefixes its tools' (`<name>-<tool>`); `renaming` on an existing server. */
export function ServerNameField({
  renaming = false,
  ...field
}: {
  value: string
  onChange: (value: string) => void
  error?: string
  renaming?: boolean
}) {
  return (
    <NameField
      name={renaming ? 'mcp-edit-name' : 'mcp-name'}
      description={
        renaming
          ? 'Letters, digits and _; renaming renames its tools (<name>-<tool>)'
          : 'Letters, digits and _'
      }
      {...field}
      required={false}
    />
  )
}
