// The chart beside the README's table: CPU µs per request and p99 added at the fixed rate, by target,
// JSON and streamed side by side. Plain SVG text, no dependency: horizontal bars, one panel per figure.
import type { Mode } from './load.js'

export interface ChartRow {
  target: string
  /** Per mode: CPU µs per request at saturation. */
  cpuMicros: Partial<Record<Mode, number>>
  /** Per mode: p99 added over `direct` at the fixed rate, in ms; undefined when not measured. */
  p99AddedMs: Partial<Record<Mode, number>>
  /** Per mode: true when the target could not hold the fixed rate (its p99 is then queueing). */
  saturated: Partial<Record<Mode, boolean>>
}

const WIDTH = 760
const LABEL_WIDTH = 190
const VALUE_WIDTH = 110
const BAR_HEIGHT = 13
const GROUP_GAP = 9
const PANEL_TITLE = 34
const COLOURS: Record<Mode, string> = { 'non-streaming': '#4e79a7', streaming: '#e15759' }
const MODE_LABELS: Record<Mode, string> = { 'non-streaming': 'JSON', streaming: 'SSE (streamed)' }
const MODES: Mode[] = ['non-streaming', 'streaming']

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

interface PanelSpec {
  title: string
  unit: string
  digits: number
  value(row: ChartRow, mode: Mode): number | undefined
  /** A bar drawn to the axis's end, marked, because its value would flatten every other bar. */
  note(row: ChartRow, mode: Mode): string | undefined
}

/**
 * The axis's end: the largest value, unless one value dwarfs the rest (Portkey saturated at the fixed
 * rate), in which case bars beyond 1.5× the next largest are cut at the axis and labelled with their value.
 */
function axisMax(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v) && v > 0).sort((a, b) => b - a)
  if (sorted.length === 0) return 1
  if (sorted.length > 1 && sorted[0] > 4 * sorted[1]) return sorted[1] * 1.5
  return sorted[0]
}

function panel(rows: ChartRow[], spec: PanelSpec, top: number): { svg: string[]; height: number } {
  const values = rows.flatMap((r) => MODES.map((m) => spec.value(r, m) ?? NaN))
  const max = axisMax(values)
  const barSpace = WIDTH - LABEL_WIDTH - VALUE_WIDTH
  const svg = [
    `<text x="10" y="${top + 20}" class="title">${escapeXml(spec.title)}</text>`,
    `<line x1="${LABEL_WIDTH}" y1="${top + PANEL_TITLE - 4}" x2="${LABEL_WIDTH}" ` +
      `y2="${top + PANEL_TITLE + rows.length * (2 * BAR_HEIGHT + GROUP_GAP)}" class="axis"/>`,
  ]
  rows.forEach((row, i) => {
    const groupTop = top + PANEL_TITLE + i * (2 * BAR_HEIGHT + GROUP_GAP)
    svg.push(
      `<text x="${LABEL_WIDTH - 8}" y="${groupTop + BAR_HEIGHT + 4}" class="label">${escapeXml(row.target)}</text>`,
    )
    MODES.forEach((mode, j) => {
      const y = groupTop + j * BAR_HEIGHT
      const value = spec.value(row, mode)
      const note = spec.note(row, mode)
      if (value === undefined || !Number.isFinite(value)) {
        svg.push(`<text x="${LABEL_WIDTH + 4}" y="${y + 10}" class="value">not measured</text>`)
        return
      }
      const cut = value > max
      const length = Math.max(1, (Math.min(value, max) / max) * barSpace)
      svg.push(
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${length.toFixed(1)}" height="${BAR_HEIGHT - 2}" ` +
          `fill="${COLOURS[mode]}"${cut ? ' fill-opacity="0.55"' : ''}><title>${escapeXml(
            `${row.target} ${MODE_LABELS[mode]}: ${value.toFixed(spec.digits)} ${spec.unit}`,
          )}</title></rect>`,
      )
      const text = `${cut ? '≫ ' : ''}${value.toFixed(spec.digits)}${note ? ` (${note})` : ''}`
      svg.push(
        `<text x="${(LABEL_WIDTH + length + 4).toFixed(1)}" y="${y + 10}" class="value">${escapeXml(text)}</text>`,
      )
    })
  })
  return { svg, height: PANEL_TITLE + rows.length * (2 * BAR_HEIGHT + GROUP_GAP) + 12 }
}

/** The whole SVG document: a legend, then the CPU panel and the p99 panel. */
export function renderChart(rows: ChartRow[], caption: string): string {
  const cpu = panel(
    rows,
    {
      title: 'CPU µs per request at saturation (lower is better)',
      unit: 'µs',
      digits: 0,
      value: (r, m) => r.cpuMicros[m],
      note: () => undefined,
    },
    30,
  )
  const p99 = panel(
    rows,
    {
      title: 'p99 ms added over the upstream alone at the fixed rate (lower is better)',
      unit: 'ms',
      digits: 1,
      value: (r, m) => r.p99AddedMs[m],
      note: (r, m) => (r.saturated[m] ? 'saturated' : undefined),
    },
    30 + cpu.height,
  )
  const height = 30 + cpu.height + p99.height + 24
  const legend = MODES.map(
    (mode, i) =>
      `<rect x="${10 + i * 150}" y="8" width="12" height="12" fill="${COLOURS[mode]}"/>` +
      `<text x="${28 + i * 150}" y="18" class="legend">${MODE_LABELS[mode]}</text>`,
  )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:600}.label{font-size:12px;text-anchor:end}' +
      '.value{font-size:11px;fill:#333}.legend{font-size:12px}.caption{font-size:11px;fill:#555}' +
      '.axis{stroke:#999;stroke-width:1}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...legend,
    ...cpu.svg,
    ...p99.svg,
    `<text x="10" y="${height - 8}" class="caption">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n')
}
