import { Group, NumberInput, Select, TagsInput } from '@mantine/core'
import type { ReactNode } from 'react'
import { RemoveRowButton, AddRowFooter } from './components'

/** One provider a key or profile may reach, with the models it may use there. */
export interface ProviderRow {
  id?: number
  provider: string
  allowed_models: string[]
  /** Only where rows carry a weight (virtual keys); empty means none. */
  weight?: number | string
}

/**
 * The editor of a list of providers and their allowed models (virtual keys, access profiles): a
 * row per provider, removable, and a button that adds the next provider not listed yet.
 */
export function ProviderRows({
  rows,
  onChange,
  providerNames,
  withWeight = false,
  error,
  rowTestId,
  hint,
}: {
  rows: ProviderRow[]
  onChange: (rows: ProviderRow[]) => void
  providerNames: string[]
  withWeight?: boolean
  error?: string
  rowTestId?: string
  /** Said beside the add button (what the fields mean). */
  hint?: ReactNode
}) {
  const setRow = (i: number, patch: Partial<ProviderRow>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)))
  return (
    <>
      {rows.map((r, i) => (
        // On a phone the row wraps: the provider takes the full width, the rest (and the delete icon) follow.
        <Group key={i} align="flex-end" wrap="wrap" gap="xs" data-testid={rowTestId}>
          <Select
            label="Provider"
            data={[...new Set([...providerNames, r.provider])]}
            value={r.provider}
            onChange={(v) => setRow(i, { provider: v ?? r.provider })}
            w={{ base: '100%', sm: 150 }}
            allowDeselect={false}
            searchable
          />
          <TagsInput
            label="Allowed models"
            placeholder="* for all"
            value={r.allowed_models}
            onChange={(v) => setRow(i, { allowed_models: v })}
            style={{ flex: '1 1 180px', minWidth: 0 }}
          />
          {withWeight && (
            <NumberInput
              label="Weight"
              placeholder="none"
              value={r.weight}
              onChange={(v) => setRow(i, { weight: v })}
              clampBehavior="none"
              w={90}
            />
          )}
          <RemoveRowButton
            label={`Remove ${r.provider}`}
            mb={2}
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
          />
        </Group>
      ))}
      <AddRowFooter
        error={error}
        label="Add provider"
        disabled={providerNames.length === 0}
        onAdd={() =>
          onChange([
            ...rows,
            {
              provider: providerNames.find((n) => !rows.some((r) => r.provider === n)) ?? providerNames[0],
              allowed_models: ['*'],
              ...(withWeight && { weight: '' }),
            },
          ])
        }
      >
        {hint}
      </AddRowFooter>
    </>
  )
}
