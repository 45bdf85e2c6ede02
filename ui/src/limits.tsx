import { Group, NumberInput, Progress, Select, Stack, Text } from '@mantine/core'
import { useState, type ReactNode } from 'react'
import { RemoveRowButton, AddRowFooter } from './components'
import { formatDateTime, formatMoney as money } from './format'
import { numberProblem, type Problems } from './form'
import type {
  Budget as GovernanceBudget,
  RateLimit as GovernanceRateLimit,
} from '../../src/governance/model.js'

/**
 * A budget as the governance API shows it, with its live usage; an access profile's has only its
 * limit and period. Field names and types come from the server's type-only governance/model.ts.
 */
export type Budget = Pick<GovernanceBudget, 'max_limit' | 'reset_duration'> &
  Partial<Pick<GovernanceBudget, 'id' | 'current_usage' | 'last_reset' | 'reset_at'>>

export type RateLimit = Partial<
  Pick<
    GovernanceRateLimit,
    | 'request_max_limit'
    | 'request_reset_duration'
    | 'request_current_usage'
    | 'request_reset_at'
    | 'token_max_limit'
    | 'token_reset_duration'
    | 'token_current_usage'
    | 'token_reset_at'
  >
>

/** A budget row of a form: empty strings until the user types. */
export interface BudgetDraft {
  max_limit: number | string
  reset_duration: string
}

export interface RateLimitDraft {
  request_max_limit: number | string
  request_reset_duration: string
  token_max_limit: number | string
  token_reset_duration: string
}

export const BUDGET_DURATIONS = ['1h', '1d', '1w', '1M', '1Q', '1Y']
export const RATE_DURATIONS = ['1m', '1h', '1d', '1w', '1M']

const UNIT_MS: Record<string, number> = {
  m: 60e3,
  h: 3600e3,
  d: 86400e3,
  w: 7 * 86400e3,
  M: 30 * 86400e3,
  Q: 91 * 86400e3,
  Y: 365 * 86400e3,
}

/** When a window ends: the server's `reset_at`, else last reset plus the duration. */
export function resetTime(
  resetAt: string | undefined,
  lastReset: string | undefined,
  duration?: string | null,
) {
  if (resetAt) return new Date(resetAt)
  const m = duration ? /^(\d+)([mhdwMQY])$/.exec(duration) : null
  if (!lastReset || !m) return undefined
  return new Date(Date.parse(lastReset) + Number(m[1]) * UNIT_MS[m[2]])
}

function when(d: Date | undefined): string {
  return d ? `resets ${formatDateTime(d)}` : ''
}

export function UsageBar({
  used,
  max,
  label,
  reset,
}: {
  used: number
  max: number
  label: string
  reset?: string
}) {
  const pct = max > 0 ? Math.min(100, (used / max) * 100) : 0
  return (
    <div data-testid="usage-bar">
      <Group justify="space-between" gap={4} wrap="nowrap">
        <Text size="xs">{label}</Text>
        <Text size="xs" c="dimmed">
          {pct > 0 && pct < 1 ? '<1' : Math.round(pct)}%
        </Text>
      </Group>
      <Progress.Root size="sm">
        <Progress.Section
          value={pct}
          color={pct >= 100 ? 'red' : pct > 80 ? 'orange' : 'indigo'}
          aria-label={label}
        />
      </Progress.Root>
      {reset && (
        <Text size="xs" c="dimmed">
          {reset}
        </Text>
      )}
    </div>
  )
}

/** Every budget and rate limit of an owner as usage bars, each with its next reset. */
export function LimitBars({ budgets, rateLimit }: { budgets: Budget[]; rateLimit?: RateLimit | null }) {
  const r = rateLimit
  return (
    <Stack gap={6}>
      {budgets.map((b, i) => (
        <UsageBar
          key={b.id ?? i}
          used={b.current_usage ?? 0}
          max={b.max_limit}
          label={`${money(b.current_usage ?? 0)} of ${money(b.max_limit)} / ${b.reset_duration}`}
          reset={when(resetTime(b.reset_at, b.last_reset, b.reset_duration))}
        />
      ))}
      {r?.request_max_limit ? (
        <UsageBar
          used={r.request_current_usage ?? 0}
          max={r.request_max_limit}
          label={`${r.request_current_usage ?? 0} of ${r.request_max_limit} requests / ${r.request_reset_duration}`}
          reset={when(resetTime(r.request_reset_at, undefined))}
        />
      ) : null}
      {r?.token_max_limit ? (
        <UsageBar
          used={r.token_current_usage ?? 0}
          max={r.token_max_limit}
          label={`${r.token_current_usage ?? 0} of ${r.token_max_limit} tokens / ${r.token_reset_duration}`}
          reset={when(resetTime(r.token_reset_at, undefined))}
        />
      ) : null}
      {budgets.length === 0 && !r?.request_max_limit && !r?.token_max_limit && (
        <Text size="xs" c="dimmed">
          no limit
        </Text>
      )}
    </Stack>
  )
}

export function budgetDrafts(budgets: Budget[] | undefined): BudgetDraft[] {
  return (budgets ?? []).map((b) => ({ max_limit: b.max_limit, reset_duration: b.reset_duration }))
}

export function budgetBodies(drafts: BudgetDraft[]) {
  return drafts
    .filter((b) => b.max_limit !== '')
    .map((b) => ({ max_limit: Number(b.max_limit), reset_duration: b.reset_duration }))
}

export function rateLimitDraft(r: RateLimit | null | undefined): RateLimitDraft {
  return {
    request_max_limit: r?.request_max_limit ?? '',
    request_reset_duration: r?.request_reset_duration ?? '1h',
    token_max_limit: r?.token_max_limit ?? '',
    token_reset_duration: r?.token_reset_duration ?? '1h',
  }
}

/** The body of a rate limit: null when both limits are empty (which removes a stored one). */
export function rateLimitBody(d: RateLimitDraft) {
  if (d.request_max_limit === '' && d.token_max_limit === '') return null
  return {
    request_max_limit: d.request_max_limit === '' ? null : Number(d.request_max_limit),
    request_reset_duration: d.request_max_limit === '' ? null : d.request_reset_duration,
    token_max_limit: d.token_max_limit === '' ? null : Number(d.token_max_limit),
    token_reset_duration: d.token_max_limit === '' ? null : d.token_reset_duration,
  }
}

/**
 * Every problem of a form's budgets and rate limit, in plain words: a negative or zero budget, a
 * request or token limit below 1 or not whole. Nothing is corrected behind the user's back.
 */
export function limitProblems(budgets: BudgetDraft[], rate: RateLimitDraft): Problems {
  const p: Problems = {}
  budgets.forEach((b, i) => {
    const problem =
      numberProblem(b.max_limit, { min: 0, what: 'A budget' }) ??
      (b.max_limit !== '' && Number(b.max_limit) === 0 ? 'A budget must be more than $0' : undefined)
    if (problem) p[`budget.${i}`] = problem
  })
  const requests = numberProblem(rate.request_max_limit, { min: 1, whole: true, what: 'The request limit' })
  if (requests) p['rate_limit.request_max_limit'] = requests
  const tokens = numberProblem(rate.token_max_limit, { min: 1, whole: true, what: 'The token limit' })
  if (tokens) p['rate_limit.token_max_limit'] = tokens
  return p
}

/** Budgets as editable rows: each has its own limit and reset period. */
export function BudgetRows({
  value,
  onChange,
  error,
  errorFor = () => undefined,
}: {
  value: BudgetDraft[]
  onChange: (v: BudgetDraft[]) => void
  /** The server's message about the budgets. */
  error?: string
  errorFor?: (field: string) => string | undefined
}) {
  const set = (i: number, patch: Partial<BudgetDraft>) =>
    onChange(value.map((b, j) => (j === i ? { ...b, ...patch } : b)))
  return (
    <Stack gap="xs">
      {value.map((b, i) => (
        <Group key={i} align="flex-start" wrap="nowrap">
          <NumberInput
            label="Budget (USD)"
            value={b.max_limit}
            onChange={(v) => set(i, { max_limit: v })}
            clampBehavior="none"
            decimalScale={6}
            style={{ flex: 1 }}
            error={errorFor(`budget.${i}`)}
          />
          <Select
            label="Resets every"
            data={BUDGET_DURATIONS}
            value={b.reset_duration}
            onChange={(v) => set(i, { reset_duration: v ?? '1d' })}
            w={110}
            allowDeselect={false}
          />
          <RemoveRowButton
            label="Remove budget"
            mt={26}
            onClick={() => onChange(value.filter((_, j) => j !== i))}
          />
        </Group>
      ))}
      <AddRowFooter
        error={error}
        label="Add budget"
        onAdd={() => onChange([...value, { max_limit: '', reset_duration: value.length ? '1M' : '1d' }])}
      >
        {value.length === 0 && (
          <Text size="xs" c="dimmed">
            No budget: spending is not capped.
          </Text>
        )}
      </AddRowFooter>
    </Stack>
  )
}

export function RateLimitFields({
  value,
  onChange,
  error,
  errorFor = () => undefined,
}: {
  value: RateLimitDraft
  onChange: (v: RateLimitDraft) => void
  /** The server's message about the rate limit. */
  error?: string
  errorFor?: (field: string) => string | undefined
}) {
  const set = (patch: Partial<RateLimitDraft>) => onChange({ ...value, ...patch })
  return (
    <Stack gap="xs">
      <Group align="flex-start" grow>
        <NumberInput
          label="Max requests"
          placeholder="no limit"
          value={value.request_max_limit}
          onChange={(v) => set({ request_max_limit: v })}
          clampBehavior="none"
          error={errorFor('rate_limit.request_max_limit') ?? error}
        />
        <Select
          label="Request window"
          data={RATE_DURATIONS}
          value={value.request_reset_duration}
          onChange={(v) => set({ request_reset_duration: v ?? '1h' })}
          allowDeselect={false}
        />
      </Group>
      <Group align="flex-start" grow>
        <NumberInput
          label="Max tokens"
          placeholder="no limit"
          value={value.token_max_limit}
          onChange={(v) => set({ token_max_limit: v })}
          clampBehavior="none"
          error={errorFor('rate_limit.token_max_limit')}
        />
        <Select
          label="Token window"
          data={RATE_DURATIONS}
          value={value.token_reset_duration}
          onChange={(v) => set({ token_reset_duration: v ?? '1h' })}
          allowDeselect={false}
        />
      </Group>
    </Stack>
  )
}

/**
 * The budgets and rate limit a form edits, as drafts: their problems in plain words, and the
 * bodies the governance API takes.
 */
export function useLimitDrafts(budgets?: Budget[], rateLimit?: RateLimit | null) {
  const [budgetRows, setBudgets] = useState(budgetDrafts(budgets))
  const [rate, setRate] = useState(rateLimitDraft(rateLimit))
  return {
    budgets: budgetRows,
    setBudgets,
    rate,
    setRate,
    problems: () => limitProblems(budgetRows, rate),
    bodies: () => ({ budgets: budgetBodies(budgetRows), rate_limit: rateLimitBody(rate) }),
    /** Fills the drafts from a stored owner (a dialog that loads its item after it opens). */
    load: (b: Budget[] | undefined, r: RateLimit | null | undefined) => {
      setBudgets(budgetDrafts(b))
      setRate(rateLimitDraft(r))
    },
  }
}

/** A form's budget rows then its rate limit, each after its own heading when one is given. */
export function LimitFields({
  drafts,
  errorFor,
  budgetsHeading,
  rateHeading,
  budgetsError = errorFor('budgets'),
}: {
  drafts: ReturnType<typeof useLimitDrafts>
  errorFor: (field: string) => string | undefined
  budgetsHeading?: ReactNode
  rateHeading?: ReactNode
  budgetsError?: string
}) {
  return (
    <>
      {budgetsHeading}
      <BudgetRows
        value={drafts.budgets}
        onChange={drafts.setBudgets}
        error={budgetsError}
        errorFor={errorFor}
      />
      {rateHeading}
      <RateLimitFields
        value={drafts.rate}
        onChange={drafts.setRate}
        error={errorFor('rate_limit')}
        errorFor={errorFor}
      />
    </>
  )
}
