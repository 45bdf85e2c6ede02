import { PasswordInput, SimpleGrid, Stack, Text, Textarea, TextInput } from '@mantine/core'
import { isHttpUrl, type Problems } from '../form'
import type { Setup } from '../provider-catalog'

/** A cloud key's settings as the form holds them: text per field, as Bifrost names them. */
export type CloudDraft = Record<string, string>

type Cloud = Extract<Setup, 'azure' | 'bedrock' | 'vertex'>

export const isCloud = (setup: Setup): setup is Cloud =>
  setup === 'azure' || setup === 'bedrock' || setup === 'vertex'

/** The member of a provider key that carries each cloud's settings. */
const MEMBER: Record<Cloud, string> = {
  azure: 'azure_key_config',
  bedrock: 'bedrock_key_config',
  vertex: 'vertex_key_config',
}

/** Deployments (model -> the cloud's id) as lines `model = deployment`. */
function deploymentLines(value: unknown): string {
  if (!value || typeof value !== 'object') return ''
  return Object.entries(value as Record<string, unknown>)
    .map(([model, id]) => `${model} = ${String(id)}`)
    .join('\n')
}

function parseDeployments(text: string): Record<string, string> | undefined {
  const pairs = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.split('=').map((s) => s.trim()))
  return pairs.length ? Object.fromEntries(pairs.map(([m, d]) => [m, d])) : undefined
}

/** The draft of a stored key's settings (secrets come back masked; sent back unchanged, they are kept). */
export function cloudDraft(cloud: Cloud, key?: Record<string, unknown>): CloudDraft {
  const c = (key?.[MEMBER[cloud]] ?? {}) as Record<string, unknown>
  const draft: CloudDraft = {}
  for (const [k, v] of Object.entries(c)) {
    if (k === 'deployments') draft.deployments = deploymentLines(v)
    else if (typeof v === 'string') draft[k] = v
  }
  return draft
}

/** The key's member for the API: `{ azure_key_config: {...} }`, empty fields left out. */
export function cloudBody(cloud: Cloud, draft: CloudDraft): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(draft)) {
    if (k === 'deployments') {
      const d = parseDeployments(v)
      if (d) out.deployments = d
    } else if (v.trim() !== '') out[k] = v.trim()
  }
  return { [MEMBER[cloud]]: out }
}

const isEnv = (v: string) => v.startsWith('env.')
/** A stored secret as the server shows it (sent back unchanged, the stored one is kept). */
const isMasked = (v: string) => /^\*+$/.test(v) || v.includes('*'.repeat(24)) || /^<redacted>$/i.test(v)

/** Every problem of a cloud key's settings at once; `hasKey` is whether an API key was given. */
export function cloudProblems(cloud: Cloud, d: CloudDraft, hasKey: boolean): Problems {
  const p: Problems = {}
  const has = (k: string) => (d[k] ?? '').trim() !== ''
  const badLine = (d.deployments ?? '')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !/^[^=]+=[^=]+$/.test(l))
  if (badLine) p.deployments = `Write each deployment as model = id ("${badLine}" is not)`
  if (cloud === 'azure') {
    if (!has('endpoint')) p.endpoint = 'The endpoint is required, e.g. https://my-resource.openai.azure.com'
    else if (!isEnv(d.endpoint) && !isHttpUrl(d.endpoint))
      p.endpoint = 'The endpoint must start with https:// or http://'
    const entra = ['client_id', 'client_secret', 'tenant_id'].filter(has)
    if (entra.length > 0 && entra.length < 3)
      p.client_id = 'Entra ID needs all three: client ID, client secret and tenant ID'
    if (!hasKey && entra.length === 0) p.value = 'Give the API key, or the Entra ID app below'
  }
  if (cloud === 'bedrock') {
    if (has('access_key') && !has('secret_key')) p.secret_key = 'The secret key goes with the access key'
    if (has('secret_key') && !has('access_key')) p.access_key = 'The access key goes with the secret key'
    if (!hasKey && !has('access_key')) p.access_key = 'Give AWS access keys, or a Bedrock API key above'
  }
  if (cloud === 'vertex') {
    if (!has('project_id')) p.project_id = 'The project ID is required'
    if (!has('region')) p.region = 'The region is required, e.g. us-central1 or global'
    else if (!isEnv(d.region) && !/^[a-z0-9-]+$/.test(d.region))
      p.region = 'A region is letters, digits and dashes'
    if (!has('auth_credentials')) p.auth_credentials = 'Paste the service account JSON, or write env.VAR'
    else if (!isEnv(d.auth_credentials) && !isMasked(d.auth_credentials)) {
      try {
        JSON.parse(d.auth_credentials)
      } catch {
        p.auth_credentials = 'This is not JSON: paste the whole service account file, or write env.VAR'
      }
    }
  }
  return p
}

/** The fields of a cloud key (Azure, Bedrock, Vertex), named as in Bifrost's key configs. */
export function CloudKeyFields({
  cloud,
  value,
  onChange,
  errorFor,
}: {
  cloud: Cloud
  value: CloudDraft
  onChange: (v: CloudDraft) => void
  errorFor: (field: string) => string | undefined
}) {
  const text = (
    k: string,
    label: string,
    extra: { description?: string; placeholder?: string; required?: boolean } = {},
  ) => (
    <TextInput
      label={label}
      name={k}
      value={value[k] ?? ''}
      onChange={(e) => onChange({ ...value, [k]: e.currentTarget.value })}
      error={errorFor(k)}
      {...extra}
    />
  )
  const secret = (k: string, label: string, description?: string) => (
    <PasswordInput
      label={label}
      name={k}
      description={description}
      value={value[k] ?? ''}
      onChange={(e) => onChange({ ...value, [k]: e.currentTarget.value })}
      error={errorFor(k)}
      visibilityToggleButtonProps={{ 'aria-label': `Show or hide the ${label.toLowerCase()}` }}
    />
  )
  const deployments = (what: string) => (
    <Textarea
      label="Deployments (optional)"
      description={`One per line: model = ${what}`}
      placeholder={
        cloud === 'bedrock'
          ? 'claude-sonnet = anthropic.claude-3-5-sonnet-20241022-v2:0'
          : 'gpt-4o = gpt-4o-prod'
      }
      autosize
      minRows={2}
      name="deployments"
      value={value.deployments ?? ''}
      onChange={(e) => onChange({ ...value, deployments: e.currentTarget.value })}
      error={errorFor('deployments')}
    />
  )
  if (cloud === 'azure')
    return (
      <Stack gap="sm">
        {text('endpoint', 'Endpoint', {
          placeholder: 'https://my-resource.openai.azure.com',
          required: true,
        })}
        {text('api_version', 'API version', { placeholder: '2024-10-21 (the default)' })}
        {deployments('deployment name')}
        <Text size="sm" c="dimmed">
          Entra ID instead of an API key (optional)
        </Text>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          {text('client_id', 'Client ID')}
          {secret('client_secret', 'Client secret')}
          {text('tenant_id', 'Tenant ID')}
        </SimpleGrid>
      </Stack>
    )
  if (cloud === 'bedrock')
    return (
      <Stack gap="sm">
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          {text('access_key', 'Access key ID', { placeholder: 'AKIA… or env.AWS_ACCESS_KEY_ID' })}
          {secret('secret_key', 'Secret access key')}
        </SimpleGrid>
        {secret('session_token', 'Session token (optional)', 'For temporary credentials')}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          {text('region', 'Region', { placeholder: 'us-east-1 (the default)' })}
          {text('arn', 'ARN (optional)', {
            description: 'An inference profile or role ARN put before model ids',
          })}
        </SimpleGrid>
        {deployments('Bedrock model id')}
      </Stack>
    )
  return (
    <Stack gap="sm">
      <Textarea
        label="Service account JSON (auth credentials)"
        description="The whole key file of a service account, or env.VAR naming it"
        autosize
        minRows={3}
        maxRows={8}
        name="auth_credentials"
        value={value.auth_credentials ?? ''}
        onChange={(e) => onChange({ ...value, auth_credentials: e.currentTarget.value })}
        error={errorFor('auth_credentials')}
        required
        ff="monospace"
      />
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        {text('project_id', 'Project ID', { required: true })}
        {text('project_number', 'Project number', { description: 'For tuned models' })}
        {text('region', 'Region (location)', { placeholder: 'us-central1, global…', required: true })}
      </SimpleGrid>
      {deployments('Vertex model or endpoint id')}
    </Stack>
  )
}
