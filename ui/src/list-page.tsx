import { Button, Group, MultiSelect, Pagination, Select, Stack, Table, Text, TextInput } from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { useState, type ComponentType, type ReactNode } from 'react'
import { del, post, put } from './api'
import { act, ConfirmButton, Empty, ErrorNote, FormDialog, Loading, WideTable } from './components'
import type { useSubmit } from './form'
import { formatNumber } from './format'
import { PERIODS, type useUrlFilters } from './url-filters'

/** One column of a list: its header (empty for the actions column) and what a row shows in it. */
export interface Column<T> {
  header: ReactNode
  cell: (row: T) => ReactNode
  ta?: 'right'
  fw?: number
  miw?: number
  testId?: string
}

export interface ListTableProps<T> {
  rows: T[] | undefined
  error?: string
  /** What is loading, in words (`Loading access profiles…`); the label in lower case unless said. */
  what?: string
  empty: { title: string; hint: string }
  /** The table's accessible name (its scrolling region's). */
  label: string
  minWidth: number
  columns: Column<T>[]
  /** A row's React key; its `id` unless said otherwise. */
  rowKey?: (row: T) => string | number
  /** A row's test id: the same for every row, or its own. */
  rowTestId: string | ((row: T) => string)
  /** A row's Edit button, first of its actions. */
  onEdit?: (row: T) => void
  /** A row's Delete button, last of its actions: what it deletes and how it asks; `reload` follows. */
  remove?: (row: T) => Omit<Parameters<typeof DeleteButton>[0], 'reload'> | undefined
  reload?: () => unknown
  /** A row's other actions, between Edit and Delete. */
  actions?: (row: T) => ReactNode
  testId?: string
  /** Without a header row (a table whose cells name themselves). */
  headless?: boolean
  dense?: boolean
  /** What a click on a row opens (a log's detail). */
  onRowClick?: (row: T) => void
  /** Rows shown while newer ones load: dimmed. */
  busy?: boolean
}

/**
 * The body of every list page: the error banner, the loading line, the empty state, then a table
 * that scrolls sideways, its rows ending with their actions. `rows` undefined means not loaded yet.
 */
export function ListTable<T>({
  rows,
  error,
  label,
  what = label.toLowerCase(),
  empty,
  minWidth,
  columns,
  rowKey = (row) => (row as { id: string | number }).id,
  rowTestId,
  onEdit,
  remove,
  reload,
  actions,
  testId,
  headless = false,
  dense = false,
  onRowClick,
  busy = false,
}: ListTableProps<T>) {
  const withActions = Boolean(onEdit || remove || actions)
  return (
    <>
      <ErrorNote error={error} />
      {!rows && !error && <Loading what={what} />}
      {rows && rows.length === 0 && <Empty title={empty.title} hint={empty.hint} />}
      {rows && rows.length > 0 && (
        <WideTable minWidth={minWidth} label={label}>
          <Table verticalSpacing={dense ? 'xs' : 'sm'} highlightOnHover data-testid={testId}>
            {!headless && (
              <Table.Thead>
                <Table.Tr>
                  {columns.map((c, i) => (
                    <Table.Th key={i} ta={c.ta}>
                      {c.header}
                    </Table.Th>
                  ))}
                  {withActions && <Table.Th />}
                </Table.Tr>
              </Table.Thead>
            )}
            <Table.Tbody style={busy ? { opacity: 0.6 } : undefined}>
              {rows.map((row) => (
                <Table.Tr
                  key={rowKey(row)}
                  data-testid={typeof rowTestId === 'string' ? rowTestId : rowTestId(row)}
                  onClick={onRowClick && (() => onRowClick(row))}
                  style={onRowClick && { cursor: 'pointer' }}
                >
                  {columns.map((c, i) => (
                    <Table.Td key={i} ta={c.ta} fw={c.fw} miw={c.miw} data-testid={c.testId}>
                      {c.cell(row)}
                    </Table.Td>
                  ))}
                  {withActions && (
                    <Table.Td>
                      <Group gap={4} wrap="nowrap" justify="flex-end">
                        {onEdit && <RowButton label="Edit" onClick={() => onEdit(row)} />}
                        {actions?.(row)}
                        {remove && <RemoveButton what={remove(row)} reload={reload} />}
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </WideTable>
      )}
    </>
  )
}

/** A row's small button (Edit, Access, Redeliver…). */
export function RowButton({
  label,
  onClick,
  variant = 'light',
}: {
  label: string
  onClick: () => void
  variant?: 'light' | 'default'
}) {
  return (
    <Button size="compact-xs" variant={variant} onClick={onClick}>
      {label}
    </Button>
  )
}

/** A row's Delete (or Remove): asks once more, deletes `path`, says `done` and reloads the list. */
function DeleteButton({
  path,
  question,
  done,
  reload,
  label = 'Delete',
}: {
  path: string
  question: string
  done: string
  reload: () => unknown
  label?: string
}) {
  return (
    <ConfirmButton
      label={label}
      question={question}
      onConfirm={() => void act(() => del(path), done, reload)}
    />
  )
}

function RemoveButton({
  what,
  reload = () => undefined,
}: {
  what: Omit<Parameters<typeof DeleteButton>[0], 'reload'> | undefined
  reload?: () => unknown
}) {
  return what ? <DeleteButton {...what} reload={reload} /> : null
}

/** A row's switch between active and inactive: PUTs what `request` says, then reloads. */
export function ActiveToggle({
  active,
  what,
  request,
  reload,
}: {
  active: boolean
  /** `Key`, `Profile`: the notification reads `Key deactivated`. */
  what: string
  request: () => Promise<unknown>
  reload: () => unknown
}) {
  return (
    <RowButton
      variant="default"
      label={active ? 'Deactivate' : 'Activate'}
      onClick={() => void act(request, active ? `${what} deactivated` : `${what} activated`, reload)}
    />
  )
}

/** Which item a list's dialog edits: none (closed), a new one, or an existing one. */
export function useEditor<T>() {
  const [state, setState] = useState<{ item?: T }>()
  return {
    open: state !== undefined,
    item: state?.item,
    create: () => setState({}),
    edit: (item: T) => setState({ item }),
    close: () => setState(undefined),
  }
}

/** Creates (POST `collection`) or replaces (PUT `collection/id`) one item. */
export function saveItem<R = unknown>(collection: string, id: string | number | undefined, body: unknown) {
  return id === undefined ? post<R>(collection, body) : put<R>(`${collection}/${id}`, body)
}

/** What a page hands the dialog that creates or edits one item: how to close it, and what follows a save. */
export interface DialogProps {
  onClose: () => void
  /** Once saved (before the dialog closes): the list reloads. */
  onSaved?: () => unknown
}

/**
 * A create/edit dialog: its fields, what went wrong, and its submit button. A save that succeeds
 * tells the list (`onSaved`, which reloads it) and closes the dialog.
 */
export function EditDialog({
  form,
  save,
  onSaved,
  onClose,
  submitLabel,
  children,
  ...dialog
}: DialogProps & {
  form: ReturnType<typeof useSubmit>
  save: () => Promise<unknown>
  title: string
  size?: string
  submitLabel: string
  children: ReactNode
}) {
  const submit = () =>
    form.run(async () => {
      await save()
      onSaved?.()
      onClose()
    })
  return (
    <FormDialog onClose={onClose} onSubmit={() => void submit()} {...dialog}>
      <Stack>
        {children}
        <SubmitFooter form={form} label={submitLabel} />
      </Stack>
    </FormDialog>
  )
}

/** The end of a create/edit dialog: what went wrong as a whole, then its submit button. */
function SubmitFooter({
  form,
  label,
}: {
  form: Pick<ReturnType<typeof useSubmit>, 'summary' | 'general' | 'busy'>
  label: string
}) {
  return (
    <>
      {form.summary && <ErrorNote error={form.summary} />}
      <ErrorNote error={form.general} />
      <Button type="submit" loading={form.busy}>
        {label}
      </Button>
    </>
  )
}

/** The name of the item a dialog creates or edits. */
export function NameField({
  value,
  onChange,
  error,
  name,
  description,
  required = true,
}: {
  value: string
  onChange: (value: string) => void
  error?: string
  /** The input's form name, which tests and password managers see. */
  name?: string
  description?: string
  required?: boolean
}) {
  return (
    <TextInput
      label="Name"
      name={name}
      description={description}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      error={error}
      required={required}
    />
  )
}

/** A list's search box; the value settles 300 ms after the last key so that typing does not flood the API. */
export function useSearch(onChange?: () => void) {
  const [search, setSearch] = useState('')
  const [settled] = useDebouncedValue(search, 300)
  /** The list's empty state: `none` when there is nothing at all, else a hint to clear the search. */
  const empty = (noun: string, none: { title: string; hint: string }) =>
    settled ? { title: `No ${noun} matches`, hint: `Clear the search to see every ${noun}.` } : none
  const box = (label: string, placeholder: string) => (
    <TextInput
      placeholder={placeholder}
      value={search}
      onChange={(e) => {
        setSearch(e.currentTarget.value)
        onChange?.()
      }}
      maw={320}
      mb="md"
      aria-label={label}
    />
  )
  return { search: settled, box, empty }
}

/**
 * Pages of a list with its total (`42 users`): shown when there is more than one page, or, with
 * `alwaysCount`, as soon as there is anything to count.
 */
export function Pages({
  total,
  pages,
  page,
  onChange,
  noun,
  alwaysCount = false,
  testId,
}: {
  total: number
  pages: number
  page: number
  onChange: (page: number) => void
  /** The counted thing, singular and plural: `['entry', 'entries']`. */
  noun: [string, string]
  alwaysCount?: boolean
  testId?: string
}) {
  if (pages <= 1 && !(alwaysCount && total > 0)) return null
  return (
    <Group justify="space-between" mt="md">
      <Text size="sm" c="dimmed" data-testid={testId}>
        {formatNumber(total)} {total === 1 ? noun[0] : noun[1]}
      </Text>
      {pages > 1 && <Pagination total={pages} value={page} onChange={onChange} siblings={1} />}
    </Group>
  )
}

/**
 * A log list (requests, MCP tool calls): a row opens its entry, and the count and pages follow,
 * all kept in the page's URL.
 */
export function LogTable<T extends { id: string }>({
  filters,
  total,
  perPage,
  noun,
  countTestId,
  drawer: Drawer,
  ...table
}: Omit<ListTableProps<T>, 'onRowClick' | 'dense'> & {
  filters: ReturnType<typeof useUrlFilters>
  total: number
  perPage: number
  noun: [string, string]
  countTestId?: string
  /** The side panel of the entry the URL names (`?entry=`). */
  drawer: ComponentType<{ id?: string; onClose: () => void }>
}) {
  return (
    <>
      <ListTable {...table} dense onRowClick={(row) => filters.update('entry', row.id)} />
      <Pages
        total={total}
        pages={Math.ceil(total / perPage)}
        page={filters.page}
        onChange={(p) => filters.update('page', String(p))}
        noun={noun}
        alwaysCount
        testId={countTestId}
      />
      <Drawer id={filters.entry} onClose={() => filters.update('entry', null)} />
    </>
  )
}

/** A log list's filter of several values, kept in its URL as a comma-separated list (`?models=a,b`). */
export function UrlMultiSelect({
  filters,
  name,
  label,
  data,
  w = 200,
  searchable = true,
}: {
  filters: ReturnType<typeof useUrlFilters>
  name: string
  label: string
  data: (string | { value: string; label: string })[]
  w?: number
  searchable?: boolean
}) {
  return (
    <MultiSelect
      label={label}
      data={data}
      value={filters.list(name)}
      onChange={(v) => filters.update(name, v.join(','))}
      w={w}
      clearable
      searchable={searchable}
      name={name}
    />
  )
}

/** A log list's time range, kept in its URL (`?period=24h`). */
export function PeriodFilter({ filters }: { filters: ReturnType<typeof useUrlFilters> }) {
  return (
    <Select
      label="Time range"
      placeholder="All time"
      data={PERIODS}
      value={filters.params.get('period')}
      onChange={(v) => filters.update('period', v)}
      w={170}
      clearable
      name="period"
    />
  )
}

/** A log list's outcome filter, kept in its URL (`?status=error`). */
export function StatusFilter({ filters }: { filters: ReturnType<typeof useUrlFilters> }) {
  return (
    <Select
      label="Status"
      data={['success', 'error']}
      value={filters.params.get('status')}
      onChange={(v) => filters.update('status', v)}
      w={130}
      clearable
      name="status"
    />
  )
}
