import type { FinishReason } from '../core/schemas/index.js'

/** A provider's stop reasons read through `table`: no reason stays none, one the table lacks is `stop`. */
export function finishReasonsFrom(
  table: Readonly<Record<string, FinishReason>>,
): (reason: string | null | undefined) => FinishReason | null {
  return (reason) => (reason == null ? null : (table[reason] ?? 'stop'))
}
