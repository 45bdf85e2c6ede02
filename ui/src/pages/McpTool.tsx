import { Button, Divider, Modal, PasswordInput, Stack, Text } from '@mantine/core'
import { useState } from 'react'
import { api, errorText } from '../api'
import { ErrorNote } from '../components'
import { JsonBox } from '../detail'
import { formatMs } from '../format'
import { argumentsOf, initialValues, SchemaForm, type FormValues, type JsonSchema } from '../schema-form'
import { keyHeaders, rememberSessionKey, sessionKey } from '../session-key'
import { bindText } from '../form'

export interface McpToolInfo {
  /** As keys call it: `<server>-<tool>`. */
  name: string
  description?: string
  parameters?: JsonSchema
}

/**
 * One tool of a server: its description and input schema, and a form made from that schema that
 * runs the tool through the gateway (POST /v1/mcp/tool/execute), as a virtual key would.
 */
export function ToolDialog({
  tool,
  label,
  onClose,
}: {
  tool: McpToolInfo
  label: string
  onClose: () => void
}) {
  const schema = tool.parameters ?? {}
  const [values, setValues] = useState<FormValues>(() => initialValues(schema))
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [vk, setVk] = useState(sessionKey)
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<{ text: string; ms: number }>()
  const [failure, setFailure] = useState<string>()
  const run = async () => {
    const { args, errors: found } = argumentsOf(schema, values)
    setErrors(found)
    if (Object.keys(found).length) return
    rememberSessionKey(vk.trim())
    setBusy(true)
    setFailure(undefined)
    const start = performance.now()
    try {
      const answer = await api<{ content: string }>(
        'POST',
        '/v1/mcp/tool/execute?format=chat',
        {
          id: `ui-${Date.now()}`,
          type: 'function',
          function: { name: tool.name, arguments: JSON.stringify(args) },
        },
        keyHeaders(vk.trim()),
      )
      setResult({ text: answer.content, ms: performance.now() - start })
    } catch (err) {
      setResult(undefined)
      setFailure(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Modal opened onClose={onClose} title={`Tool ${label}`} size="lg">
      <Stack>
        <Text size="sm" data-testid="tool-description">
          {tool.description ?? 'The server gives no description.'}
        </Text>
        <JsonBox label="Input schema" value={schema} maxHeight={200} />
        <Divider label="Try this tool" labelPosition="left" />
        <form
          onSubmit={(e) => {
            e.preventDefault()
            void run()
          }}
        >
          <Stack gap="sm">
            <SchemaForm schema={schema} values={values} errors={errors} onChange={setValues} />
            <PasswordInput
              label="Virtual key"
              name="tool-vk"
              description="The call is made as this key, which must be allowed the tool"
              {...bindText(vk, setVk)}
            />
            <ErrorNote error={failure} />
            <Button type="submit" loading={busy}>
              Run
            </Button>
          </Stack>
        </form>
        {result && (
          <div data-testid="tool-result">
            <Text size="xs" c="dimmed" mb={4}>
              Answered in {formatMs(result.ms)}
            </Text>
            <JsonBox label="Result" value={result.text} />
          </div>
        )}
      </Stack>
    </Modal>
  )
}
