import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'

/** Uploads up to this size are held in memory while spooled; larger ones go to a temporary file. */
const MEMORY_SPOOL_BYTES = 4 * 1024 * 1024

/** The end of the body kept aside to read the fields that follow the file part. */
const TAIL_BYTES = 64 * 1024

/** An upload read to its end (bounded by the body limit its source enforces), to be sent on afterwards. */
export interface SpooledUpload {
  /** The caller's bytes, unchanged, from memory or from the temporary file. */
  body(): AsyncIterable<Buffer>
  /** The last bytes of the body (up to 64 KiB), where the fields after the file part are. */
  tail: Buffer
  /** Removes the temporary file, if there is one. */
  dispose(): Promise<void>
}

/**
 * Reads an upload to its end: in memory up to 4 MiB, past that into a temporary file (removed by
 * `dispose`), so that a field sent after the file part can be read before the upload goes on.
 */
export async function spoolUpload(source: AsyncIterable<Buffer>): Promise<SpooledUpload> {
  const chunks: Buffer[] = []
  let held = 0
  let dir: string | undefined
  let file: WriteStream | undefined
  let tail: Buffer = Buffer.alloc(0)
  const dispose = async () => {
    file?.destroy()
    if (dir) await rm(dir, { recursive: true, force: true })
  }
  try {
    for await (const chunk of source) {
      tail = keepTail(tail, chunk)
      if (!file && held + chunk.length <= MEMORY_SPOOL_BYTES) {
        chunks.push(chunk)
        held += chunk.length
        continue
      }
      if (!file) {
        dir = await mkdtemp(join(tmpdir(), 'heimdall-upload-'))
        file = createWriteStream(join(dir, 'body'))
        for (const c of chunks.splice(0)) if (!file.write(c)) await once(file, 'drain')
      }
      if (!file.write(chunk)) await once(file, 'drain')
    }
    if (file) {
      file.end()
      await once(file, 'finish')
    }
  } catch (err) {
    await dispose()
    throw err
  }
  const path = file ? join(dir!, 'body') : undefined
  return {
    tail,
    dispose,
    body: () => (path ? (createReadStream(path) as AsyncIterable<Buffer>) : fromMemory(chunks)),
  }
}

async function* fromMemory(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks
}

function keepTail(tail: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= TAIL_BYTES) return chunk.subarray(chunk.length - TAIL_BYTES)
  const joined = Buffer.concat([tail, chunk])
  return joined.length > TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined
}

/**
 * A text field sent after the file part, read from the end of a multipart body. The file's bytes
 * cannot hold the delimiter line, so the parts found between delimiters are real parts.
 */
export function trailingField(tail: Buffer, boundary: string, name: string): string | undefined {
  const between = Buffer.from(`\r\n--${boundary}`)
  let value: string | undefined
  let pos = tail.indexOf(between)
  while (pos !== -1) {
    const headersStart = pos + between.length + 2
    const headersEnd = tail.indexOf('\r\n\r\n', headersStart)
    if (headersEnd === -1) break
    const next = tail.indexOf(between, headersEnd + 4)
    if (next === -1) break
    const headers = tail.subarray(headersStart, headersEnd).toString('utf8')
    const field = /;\s*name="([^"]*)"/i.exec(headers)?.[1]
    if (field === name && !/;\s*filename=/i.test(headers)) {
      value = tail.subarray(headersEnd + 4, next).toString('utf8')
    }
    pos = next
  }
  return value
}
