import type { FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../core/context.js'
import { GatewayError } from '../../core/errors.js'
import type { JsonResult } from '../../core/provider-adapter.js'
import type { ProviderObjectKind, ProviderObjects } from '../../store/index.js'
import type { AdminAuth } from '../auth.js'

/**
 * Files and batches belong to whoever created them. The rule, per caller:
 * - a virtual key sees the objects it created, and nothing else;
 * - a request without a virtual key sees the objects made without one, and those made before
 *   creators were recorded; it is not an admin, even when `enforce_auth_on_inference` is off;
 * - the admin (a dashboard session or the admin's HTTP Basic credentials, with `auth_config` on)
 *   sees all.
 * An object the caller may not see answers as the provider answers an absent one (404). A batch
 * output or error file is bound to its batch's creator when the batch is seen through the gateway;
 * until then a caller without a virtual key is not shown it, as it may be another key's output.
 */
export interface FileOwnershipDeps {
  objects: ProviderObjects
  /** Whether the request carries the admin's credentials. */
  isAdmin(request: FastifyRequest): Promise<boolean>
}

/** Who asks, as far as files and batches go. */
export interface Viewer {
  admin: boolean
  /** The request's virtual key; null when it carried none. */
  virtualKeyId: string | null
}

/** The admin on the inference path: valid admin credentials while admin auth is on; never without it. */
export function adminOnInference(auth: () => AdminAuth): (request: FastifyRequest) => Promise<boolean> {
  return async (request) => {
    if (!auth().enabled) return false
    try {
      const how = await auth().authenticate(request)
      return how === 'session' || how === 'basic'
    } catch {
      // A locked-out address is simply not the admin here.
      return false
    }
  }
}

/**
 * The caller once governance has run (it resolves the virtual key). A caller with its own provider
 * key (`x-bf-direct-key`) reaches its own provider account, where the provider decides.
 */
export function viewerOf(ctx: GatewayContext, admin: boolean): Viewer {
  const vk = ctx.facts.virtualKey
  return { admin: admin || ctx.directKey !== undefined, virtualKeyId: vk?.id ?? null }
}

/** OpenAI's purpose for a batch's output and error files. */
const BATCH_OUTPUT = 'batch_output'

/**
 * Whether `viewer` may see an object recorded as made by `owner` (undefined: nothing recorded).
 * `purpose` is the file's, when known; an unrecorded batch output is shown only to the admin.
 */
export function sees(viewer: Viewer, owner: string | null | undefined, purpose?: unknown): boolean {
  if (viewer.admin) return true
  if (viewer.virtualKeyId !== null) return owner === viewer.virtualKeyId
  if (owner === undefined) return purpose !== BATCH_OUTPUT
  return owner === null
}

/** The answer for an object the caller may not see: the provider's own for an absent one. */
export function notFound(kind: ProviderObjectKind, id: string, param?: string): GatewayError {
  const message =
    kind === 'file'
      ? `No such File object: ${id}`
      : kind === 'container'
        ? `Container with id '${id}' not found.`
        : `No batch found with id '${id}'.`
  return new GatewayError('not_found', message, {
    type: 'invalid_request_error',
    param: param ?? (kind === 'file' ? 'id' : undefined),
    isBifrostError: false,
    retryable: false,
  })
}

/** One provider's files or batches, seen by one caller. */
export class ObjectScope {
  constructor(
    private readonly objects: ProviderObjects,
    private readonly provider: string,
    readonly viewer: Viewer,
  ) {}

  async ownerOf(kind: ProviderObjectKind, id: string): Promise<string | null | undefined> {
    const owners = await this.ownersOf(kind, [id])
    return owners.has(id) ? owners.get(id) : undefined
  }

  private ownersOf(kind: ProviderObjectKind, ids: string[]): Promise<Map<string, string | null>> {
    return storeCall(() => this.objects.getProviderObjectsByIds(kind, this.provider, ids))
  }

  private record(kind: ProviderObjectKind, id: string, owner: string | null): Promise<void> {
    return storeCall(() => this.objects.upsertProviderObject(kind, this.provider, id, owner))
  }

  /**
   * Throws the provider's 404 unless the caller may see the object. An unrecorded file asked for by a
   * caller without a virtual key is looked up with `describe` first, for its purpose.
   */
  async assertSees(
    kind: ProviderObjectKind,
    id: string,
    describe?: () => Promise<JsonResult<unknown>>,
    param?: string,
  ): Promise<void> {
    if (this.viewer.admin) return
    const owner = await this.ownerOf(kind, id)
    let purpose: unknown
    if (owner === undefined && this.viewer.virtualKeyId === null && kind === 'file' && describe) {
      purpose = ((await describe()).body as { purpose?: unknown } | null)?.purpose
    }
    if (!sees(this.viewer, owner, purpose)) throw notFound(kind, id, param)
  }

  /** Records the caller as the creator of a new object. */
  async created(kind: ProviderObjectKind, id: unknown): Promise<void> {
    if (typeof id !== 'string' || id === '') return
    await this.record(kind, id, this.viewer.virtualKeyId)
  }

  async deleted(kind: ProviderObjectKind, id: string): Promise<void> {
    await storeCall(() => this.objects.deleteProviderObject(kind, this.provider, id))
  }

  /** Binds the output and error files of batches the caller saw to each batch's creator. */
  async claimBatchFiles(batches: readonly unknown[], owners?: Map<string, string | null>): Promise<void> {
    const ids = batches.map((b) => (b as { id?: unknown } | null)?.id).filter(isId)
    const known = owners ?? (await this.ownersOf('batch', ids))
    for (const b of batches) {
      const batch = b as { id?: unknown; output_file_id?: unknown; error_file_id?: unknown } | null
      if (!batch || !isId(batch.id)) continue
      const owner = known.get(batch.id) ?? null
      for (const file of [batch.output_file_id, batch.error_file_id]) {
        if (isId(file)) await this.record('file', file, owner)
      }
    }
  }

  /** Which of a page's items the caller may see, and their recorded creators. */
  async visible(
    kind: ProviderObjectKind,
    items: readonly unknown[],
  ): Promise<{ kept: boolean[]; owners: Map<string, string | null> }> {
    const ids = items.map((item) => (item as { id?: unknown } | null)?.id).filter(isId)
    const owners = await this.ownersOf(kind, ids)
    const kept = items.map((item) => {
      const o = item as { id?: unknown; purpose?: unknown } | null
      if (!o || !isId(o.id)) return this.viewer.admin
      return sees(this.viewer, owners.has(o.id) ? owners.get(o.id) : undefined, o.purpose)
    })
    return { kept, owners }
  }
}

/**
 * A config store call made inside the pipeline: its failure is a 503 that is never retried, so an
 * upload or a batch is not sent to the provider twice.
 */
async function storeCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (err) {
    throw new GatewayError('store_unavailable', 'the owners of files and batches cannot be read or written', {
      retryable: false,
      cause: err,
    })
  }
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v !== ''
}
