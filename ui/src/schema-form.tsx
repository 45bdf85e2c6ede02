import { NumberInput, Select, Stack, Switch, Text, Textarea, TextInput } from '@mantine/core'

/** The part of a JSON Schema (an MCP tool's `inputSchema`) the form understands. */
export interface JsonSchema {
  type?: string | string[]
  description?: string
  enum?: unknown[]
  default?: unknown
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
}

export type FormValues = Record<string, unknown>

const typeOf = (s: JsonSchema): string =>
  Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? '') : (s.type ?? '')

/** Fields a form edits as JSON text: arrays and objects, and anything without a simple type. */
const asJson = (s: JsonSchema) => !['string', 'number', 'integer', 'boolean'].includes(typeOf(s))

/** A form's starting values: each property's default, if it has one. */
export function initialValues(schema: JsonSchema): FormValues {
  const values: FormValues = {}
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    if (s.default !== undefined) values[name] = asJson(s) ? JSON.stringify(s.default, null, 2) : s.default
  }
  return values
}

/**
 * The arguments the form's values make, or the first field that is missing or not valid JSON.
 * Empty optional fields are left out.
 */
export function argumentsOf(
  schema: JsonSchema,
  values: FormValues,
): { args: Record<string, unknown>; errors: Record<string, string> } {
  const args: Record<string, unknown> = {}
  const errors: Record<string, string> = {}
  const required = new Set(schema.required ?? [])
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const v = values[name]
    const empty = v === undefined || v === ''
    if (empty) {
      if (required.has(name) && typeOf(s) !== 'boolean') errors[name] = 'Required'
      else if (typeOf(s) === 'boolean' && required.has(name)) args[name] = false
      continue
    }
    if (asJson(s) && typeof v === 'string') {
      try {
        args[name] = JSON.parse(v)
      } catch {
        errors[name] = 'Not valid JSON'
      }
    } else args[name] = v
  }
  return { args, errors }
}

/** A form generated from a JSON Schema: one field per property, of the property's type. */
export function SchemaForm({
  schema,
  values,
  errors,
  onChange,
}: {
  schema: JsonSchema
  values: FormValues
  errors: Record<string, string>
  onChange: (values: FormValues) => void
}) {
  const props = Object.entries(schema.properties ?? {})
  if (props.length === 0)
    return (
      <Text size="sm" c="dimmed">
        This tool takes no arguments.
      </Text>
    )
  const required = new Set(schema.required ?? [])
  const set = (name: string, v: unknown) => onChange({ ...values, [name]: v })
  return (
    <Stack gap="sm">
      {props.map(([name, s]) => {
        const common = {
          label: name,
          description: s.description,
          withAsterisk: required.has(name),
          error: errors[name],
          name: `arg-${name}`,
        }
        const t = typeOf(s)
        if (s.enum)
          return (
            <Select
              key={name}
              {...common}
              data={s.enum.map(String)}
              value={values[name] === undefined ? null : String(values[name])}
              onChange={(v) => set(name, v ?? '')}
              clearable={!required.has(name)}
            />
          )
        if (t === 'boolean')
          return (
            <Switch
              key={name}
              label={name}
              description={s.description}
              checked={values[name] === true}
              onChange={(e) => set(name, e.currentTarget.checked)}
            />
          )
        if (t === 'number' || t === 'integer')
          return (
            <NumberInput
              key={name}
              {...common}
              allowDecimal={t === 'number'}
              value={(values[name] as number | string | undefined) ?? ''}
              onChange={(v) => set(name, v)}
            />
          )
        if (t === 'string')
          return (
            <TextInput
              key={name}
              {...common}
              value={(values[name] as string | undefined) ?? ''}
              onChange={(e) => set(name, e.currentTarget.value)}
            />
          )
        return (
          <Textarea
            key={name}
            {...common}
            description={`${s.description ? `${s.description} · ` : ''}JSON ${t || 'value'}`}
            autosize
            minRows={2}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            value={(values[name] as string | undefined) ?? ''}
            onChange={(e) => set(name, e.currentTarget.value)}
          />
        )
      })}
    </Stack>
  )
}
