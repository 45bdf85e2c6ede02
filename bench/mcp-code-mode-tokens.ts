/**
 * Prompt tokens of the MCP tool definitions a model receives, with and without code mode, for 200
 * generated tools over 10 servers (realistic names, descriptions and JSON Schemas: enums, nested
 * objects, arrays, required fields). The tools go through Heimdall's own tool injection (the hook
 * that adds MCP tools to a chat request), once with plain clients and once with the same clients
 * marked `is_code_mode_client`; the `tools` array the provider would receive is counted with
 * OpenAI's o200k_base tokenizer (gpt-tokenizer) as JSON text. Providers render tool definitions
 * their own way, so the absolute figures are indicative; the ratio is what code mode changes.
 * `npx tsx bench/mcp-code-mode-tokens.ts`.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base'
import { Cancellation } from '../src/core/cancel.js'
import { createContext } from '../src/core/context.js'
import { callCodeModeTool } from '../src/mcp/code-mode/index.js'
import { McpToolInjection } from '../src/mcp/inject.js'
import type { McpTool, McpToolSource } from '../src/mcp/types.js'

type Schema = Record<string, unknown>

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra })
const int = (description: string, extra: Schema = {}): Schema => ({ type: 'integer', description, ...extra })
const bool = (description: string): Schema => ({ type: 'boolean', description })
const list = (description: string, items: Schema): Schema => ({ type: 'array', description, items })
const oneOf = (description: string, values: string[]): Schema => ({
  type: 'string',
  enum: values,
  description,
})
const paging = {
  limit: int('Maximum number of items to return', { minimum: 1, maximum: 100, default: 20 }),
  cursor: str('Opaque cursor from the previous page, to fetch the next one'),
}

/** Per server: the nouns it manages and the fields that describe one of them. */
const SERVERS: { name: string; about: string; nouns: string[]; fields: Record<string, Schema> }[] = [
  {
    name: 'github',
    about: 'GitHub repository',
    nouns: ['issue', 'pull_request', 'branch', 'release'],
    fields: {
      owner: str('Repository owner (user or organization)'),
      repo: str('Repository name'),
      title: str('Title, one line'),
      body: str('Body in GitHub-flavoured Markdown'),
      labels: list('Labels to apply', str('Label name')),
      state: oneOf('Filter by state', ['open', 'closed', 'all']),
    },
  },
  {
    name: 'jira',
    about: 'Jira project',
    nouns: ['ticket', 'sprint', 'epic', 'comment'],
    fields: {
      project_key: str('Project key, e.g. OPS'),
      summary: str('Short summary of the work'),
      description: str('Detailed description (Atlassian wiki markup)'),
      priority: oneOf('Priority', ['Highest', 'High', 'Medium', 'Low', 'Lowest']),
      assignee: str('Account id of the assignee'),
      story_points: int('Estimate in story points', { minimum: 0 }),
    },
  },
  {
    name: 'slack',
    about: 'Slack workspace',
    nouns: ['message', 'channel', 'reaction', 'reminder'],
    fields: {
      channel: str('Channel id (C…) or name with #'),
      text: str('Message text (mrkdwn)'),
      thread_ts: str('Timestamp of the parent message, to reply in a thread'),
      unfurl_links: bool('Whether links get previews'),
      blocks: list('Block Kit blocks', { type: 'object', properties: { type: str('Block type') } }),
    },
  },
  {
    name: 'postgres',
    about: 'PostgreSQL database',
    nouns: ['table', 'row', 'index', 'query_plan'],
    fields: {
      schema: str('Schema name', { default: 'public' }),
      table: str('Table name'),
      where: { type: 'object', description: 'Column → value equality filter', additionalProperties: true },
      columns: list('Columns to return', str('Column name')),
      order_by: str('Column to sort by, optionally followed by DESC'),
    },
  },
  {
    name: 'drive',
    about: 'Google Drive',
    nouns: ['file', 'folder', 'permission', 'revision'],
    fields: {
      file_id: str('Drive file id'),
      parent_id: str('Id of the parent folder'),
      mime_type: str('MIME type, e.g. application/vnd.google-apps.document'),
      role: oneOf('Access role', ['reader', 'commenter', 'writer', 'owner']),
      email: str('Email address of the user or group', { format: 'email' }),
    },
  },
  {
    name: 'calendar',
    about: 'calendar',
    nouns: ['event', 'attendee', 'calendar', 'free_busy'],
    fields: {
      calendar_id: str('Calendar id, or "primary"'),
      start: str('Start, RFC 3339 date-time', { format: 'date-time' }),
      end: str('End, RFC 3339 date-time', { format: 'date-time' }),
      time_zone: str('IANA time zone, e.g. Europe/Oslo'),
      attendees: list('Attendees', {
        type: 'object',
        properties: { email: str('Attendee email'), optional: bool('Whether attendance is optional') },
        required: ['email'],
      }),
    },
  },
  {
    name: 'stripe',
    about: 'Stripe account',
    nouns: ['customer', 'invoice', 'subscription', 'refund'],
    fields: {
      customer_id: str('Customer id (cus_…)'),
      amount: int('Amount in the smallest currency unit', { minimum: 0 }),
      currency: str('Three-letter ISO currency code, lowercase'),
      metadata: {
        type: 'object',
        description: 'Key-value pairs to store',
        additionalProperties: { type: 'string' },
      },
      status: oneOf('Status filter', ['draft', 'open', 'paid', 'uncollectible', 'void']),
    },
  },
  {
    name: 'notion',
    about: 'Notion workspace',
    nouns: ['page', 'database', 'block', 'user'],
    fields: {
      page_id: str('Page id (UUID)'),
      database_id: str('Database id (UUID)'),
      properties: {
        type: 'object',
        description: 'Property values by property name',
        additionalProperties: true,
      },
      filter: {
        type: 'object',
        description: 'Database query filter',
        properties: { property: str('Property name'), equals: str('Value to match') },
      },
      sorts: list('Sort order', {
        type: 'object',
        properties: { property: str('Property'), direction: oneOf('Direction', ['ascending', 'descending']) },
      }),
    },
  },
  {
    name: 'salesforce',
    about: 'Salesforce org',
    nouns: ['account', 'opportunity', 'lead', 'contact'],
    fields: {
      record_id: str('18-character record id'),
      soql: str('SOQL query'),
      stage: oneOf('Opportunity stage', [
        'Prospecting',
        'Qualification',
        'Proposal',
        'Negotiation',
        'Closed Won',
        'Closed Lost',
      ]),
      owner_id: str('User id of the owner'),
      fields: { type: 'object', description: 'Field values by API name', additionalProperties: true },
    },
  },
  {
    name: 'k8s',
    about: 'Kubernetes cluster',
    nouns: ['pod', 'deployment', 'service', 'config_map'],
    fields: {
      namespace: str('Namespace', { default: 'default' }),
      name: str('Object name'),
      label_selector: str('Label selector, e.g. app=web,tier!=cache'),
      replicas: int('Desired replica count', { minimum: 0 }),
      container: str('Container name, when the pod has several'),
      tail_lines: int('Lines from the end of the log', { minimum: 1 }),
    },
  },
]

const VERBS = ['list', 'get', 'create', 'update', 'delete'] as const

/** 5 verbs × 4 nouns = 20 tools per server; each takes the server's fields that fit the verb. */
function toolsOf(server: (typeof SERVERS)[number]): McpTool[] {
  const fieldNames = Object.keys(server.fields)
  return server.nouns.flatMap((noun) =>
    VERBS.map((verb) => {
      const picked =
        verb === 'list' ? fieldNames.slice(0, 2) : verb === 'delete' ? fieldNames.slice(0, 1) : fieldNames
      const properties: Schema = {
        ...Object.fromEntries(picked.map((f) => [f, server.fields[f]])),
        ...(verb === 'list' ? paging : {}),
        ...(verb !== 'list' && verb !== 'create'
          ? { [`${noun}_id`]: str(`Id of the ${noun.replace('_', ' ')}`) }
          : {}),
      }
      const required = [
        ...picked.slice(0, 1),
        ...(verb !== 'list' && verb !== 'create' ? [`${noun}_id`] : []),
      ]
      const what = noun.replace('_', ' ')
      const description = {
        list: `Lists the ${what}s of the ${server.about}, newest first, one page at a time.`,
        get: `Gets one ${what} of the ${server.about} with all its fields.`,
        create: `Creates a ${what} in the ${server.about} and returns it.`,
        update: `Updates the given fields of a ${what} in the ${server.about}; other fields are kept.`,
        delete: `Deletes a ${what} from the ${server.about}. This cannot be undone.`,
      }[verb]
      const toolName = `${verb}_${noun}`
      return {
        name: `${server.name}-${toolName}`,
        client: server.name,
        toolName,
        description,
        inputSchema: { type: 'object', properties, required },
      }
    }),
  )
}

const TOOLS = SERVERS.flatMap(toolsOf)

function sourceOf(codeMode: boolean): McpToolSource {
  return {
    listTools: () => TOOLS,
    callTool: () => Promise.reject(new Error('not called')),
    autoExecutes: () => false,
    onChange: () => () => undefined,
    isCodeModeClient: () => codeMode,
  }
}

/** The `tools` array Heimdall's injection hook adds to a chat request, as JSON text. */
function injectedTools(source: McpToolSource): unknown[] {
  const ctx = createContext({
    requestId: 'bench',
    requestType: 'chat_completion',
    signal: new Cancellation(),
    headers: {},
    modelRequested: 'openai/gpt-4o',
  })
  const request: Record<string, unknown> = { model: 'gpt-4o', messages: [] }
  new McpToolInjection({ source, anonymousTools: () => ['*'] }).beforeRequest(ctx, request)
  return request.tools as unknown[]
}

const tokens = (value: unknown) => countTokens(typeof value === 'string' ? value : JSON.stringify(value))

const classic = injectedTools(sourceOf(false))
const codeMode = injectedTools(sourceOf(true))
const caller = { source: sourceOf(true), vk: undefined, headers: {}, anonymous: ['*'] }
const fileText = async (fileName: string) => {
  const result = await callCodeModeTool('readToolFile', { fileName }, caller)
  return result.content.map((c) => String(c.text)).join('\n')
}
const listing = await callCodeModeTool('listToolFiles', {}, caller)
const fileTokens = await Promise.all(
  SERVERS.map(async (s) => tokens(await fileText(`servers/${s.name}.d.ts`))),
)
const oneTool = tokens(await fileText('servers/github/create_issue.d.ts'))
const serverFile = Math.round(fileTokens.reduce((a, b) => a + b, 0) / fileTokens.length)

const rows: [string, number, number][] = [
  [`tool definitions in every request, ${TOOLS.length} tools (classic MCP)`, classic.length, tokens(classic)],
  ['tool definitions in every request, code mode (meta-tools)', codeMode.length, tokens(codeMode)],
  [
    '  + listToolFiles answer (once per conversation)',
    1,
    tokens(listing.content.map((c) => c.text).join('')),
  ],
  ['  + readToolFile of one server, 20 tools (mean of 10)', 1, serverFile],
  ['  + readToolFile of one tool', 1, oneTool],
]
const saved = 1 - tokens(codeMode) / tokens(classic)
const withOneServer = tokens(codeMode) + tokens(listing.content.map((c) => c.text).join('')) + serverFile

console.log(
  `MCP tool definitions a model receives (o200k_base tokens; ${SERVERS.length} servers × 20 tools)\n`,
)
console.log('| what the model receives | tools | tokens |')
console.log('|---|---|---|')
for (const [what, n, t] of rows) console.log(`| ${what} | ${n} | ${t.toLocaleString('en')} |`)
console.log(
  `\nCode mode: ${(saved * 100).toFixed(1)} % fewer tool-definition tokens per request ` +
    `(${tokens(classic).toLocaleString('en')} → ${tokens(codeMode).toLocaleString('en')}); ` +
    `with the file listing and one server's declarations read once: ${withOneServer.toLocaleString('en')} tokens, ` +
    `${((1 - withOneServer / tokens(classic)) * 100).toFixed(1)} % fewer than one classic request.`,
)
