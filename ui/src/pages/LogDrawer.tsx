import { Paper, SimpleGrid, Skeleton, Stack, Text, Title } from '@mantine/core'
import { ErrorNote } from '../components'
import { EntryDrawer, Field, JsonBox } from '../detail'
import { formatDateTime, formatMoney, formatMs, formatNumber } from '../format'
import { useApi } from '../hooks'

export interface LogEntry {
  id: string
  timestamp: string
  object: string
  route?: string
  provider: string
  model: string
  status: 'success' | 'error'
  stream?: boolean
  latency: number
  time_to_first_token?: number
  total_tokens?: number
  input_tokens?: number
  output_tokens?: number
  cost?: number | null
  cost_estimated?: boolean
  client_request_id?: string
  virtual_key_id?: string
  virtual_key_name?: string | null
  team_name?: string | null
  customer_name?: string | null
  selected_key_name?: string
  fallback_index?: number
  number_of_retries?: number
  error_details?: { status_code?: number; error?: { message?: string; code?: string } }
  attempt_trail?: {
    provider: string
    model: string
    key_id?: string
    fallback_index: number
    latency: number
    error?: { code?: string; status?: number; message?: string }
  }[]
  request?: unknown
  response?: unknown
  /** How the response cache treated the request; `cache_hit` when it answered. */
  cache_debug?: {
    cache_hit: boolean
    hit_type?: 'direct' | 'semantic'
    cache_id?: string
    similarity?: number
    threshold?: number
  }
  /** What a cache hit did not spend, US dollars. */
  cache_saved_cost?: number
  /** Which routing rule (or session pin) routed the request. */
  routing_info?: { rule_id?: string; rule_name?: string; rule_chain?: string[]; session_pinned?: boolean }
}

/** `direct` or `semantic` when the response cache answered the request. */
export const cacheHit = (l: LogEntry) =>
  l.cache_debug?.cache_hit ? (l.cache_debug.hit_type ?? 'direct') : undefined

/** A request refused before routing has no provider: its model is all there is. */
export const providerModel = (l: LogEntry) => (l.provider ? `${l.provider}/${l.model}` : l.model)

/** The HTTP status the caller got: 200 for a success, the error's own status otherwise. */
export const statusCode = (l: LogEntry): string =>
  l.status === 'success' ? '200' : String(l.error_details?.status_code ?? 'error')

/** One log entry in a side panel; its summary stays in view while the request and answer scroll in their boxes. */
export function LogDrawer({ id, onClose }: { id?: string; onClose: () => void }) {
  const { data: l, error, loading } = useApi<LogEntry>(id ? `/api/logs/${encodeURIComponent(id)}` : null)
  const key = l?.virtual_key_name ?? l?.virtual_key_id
  return (
    <EntryDrawer id={id} onClose={onClose} title="Request" error={error} fill>
      {loading && !l && <Skeleton h={160} />}
      {l && l.id === id && (
        <Stack data-testid="log-detail" style={{ minWidth: 0 }}>
          <SimpleGrid cols={{ base: 2, sm: 3 }} spacing="sm">
            <Field label="Request id" value={l.id} copy={l.id} />
            <Field label="Time" value={formatDateTime(l.timestamp, true)} copy={l.timestamp} />
            <Field label="Status" value={`${statusCode(l)} ${l.status}`} copy={statusCode(l)} />
            <Field label="Route" value={l.route ?? l.object} copy={l.route ?? l.object} />
            <Field label="Virtual key" value={key ?? '—'} copy={key ?? ''} />
            <Field label="Provider / model" value={providerModel(l)} copy={providerModel(l)} />
            <Field label="Latency" value={formatMs(l.latency)} />
            <Field label="Cost" value={`${formatMoney(l.cost)}${l.cost_estimated ? ' (estimated)' : ''}`} />
            <Field
              label="Tokens in / out"
              value={`${formatNumber(l.input_tokens ?? 0)} / ${formatNumber(l.output_tokens ?? 0)}`}
            />
            {l.team_name && <Field label="Team" value={l.team_name} />}
            {l.customer_name && <Field label="Customer" value={l.customer_name} />}
            <Field
              label="Fallback / retries"
              value={`${l.fallback_index ?? 0} / ${l.number_of_retries ?? 0}`}
            />
            {l.routing_info?.rule_id && (
              <Field
                label="Routing rule"
                value={`${l.routing_info.rule_name ?? l.routing_info.rule_id}${(l.routing_info.rule_chain?.length ?? 0) > 1 ? ` (chain of ${l.routing_info.rule_chain!.length})` : ''}`}
                copy={l.routing_info.rule_id}
              />
            )}
            {l.routing_info?.session_pinned && <Field label="Session" value="pinned to its earlier target" />}
            {cacheHit(l) && (
              <Field
                label="Response cache"
                value={`${cacheHit(l)} hit${l.cache_debug?.similarity !== undefined ? ` (similarity ${l.cache_debug.similarity})` : ''}, saved ${formatMoney(l.cache_saved_cost)}`}
                copy={l.cache_debug?.cache_id}
              />
            )}
            {l.client_request_id && (
              <Field label="Your x-request-id" value={l.client_request_id} copy={l.client_request_id} />
            )}
          </SimpleGrid>
          {l.error_details?.error?.message && <ErrorNote error={l.error_details.error.message} />}
          {(l.attempt_trail?.length ?? 0) > 0 && (
            <Paper withBorder p="sm">
              <Title order={3} size="h6" mb="xs">
                Attempts
              </Title>
              {l.attempt_trail!.map((a, i) => (
                <Text size="sm" key={i} style={{ overflowWrap: 'anywhere' }}>
                  {i + 1}. {a.provider}/{a.model} {a.key_id && `(${a.key_id})`} · {formatMs(a.latency)} ·{' '}
                  {a.error ? `failed: ${a.error.message ?? a.error.code}` : 'ok'}
                </Text>
              ))}
            </Paper>
          )}
          <JsonBox label="Request" value={l.request ?? '(content logging is off)'} />
          <JsonBox label="Response" value={l.response ?? null} />
        </Stack>
      )}
    </EntryDrawer>
  )
}
