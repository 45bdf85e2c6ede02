export interface ModelEntry {
  /** `provider/model`, as clients address it. */
  id: string
  object: 'model'
  created: number
  owned_by: string
  [k: string]: unknown
}

export interface ModelList {
  object: 'list'
  data: ModelEntry[]
}
