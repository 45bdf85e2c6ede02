import { describe, expect, it } from 'vitest'
import { fromFilePart } from './files.js'

const B = 'xyzBOUNDARY'
const form = [
  `--${B}\r\nContent-Disposition: form-data; name="provider"\r\n\r\nanthropic\r\n`,
  `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`,
  'line one\r\nline two --not-a-boundary\r\n',
  `\r\n--${B}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${B}--\r\n`,
].join('')
const expected = [
  `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`,
  'line one\r\nline two --not-a-boundary\r\n',
  `\r\n--${B}--\r\n`,
].join('')

async function collect(chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = []
  async function* source() {
    yield* chunks
  }
  for await (const c of fromFilePart(source(), B)) out.push(c)
  return Buffer.concat(out).toString('latin1')
}

describe('fromFilePart', () => {
  it('keeps only the file part, the form closed after it, whole or cut at every byte', async () => {
    const whole = Buffer.from(form, 'latin1')
    expect(await collect([whole])).toBe(expected)
    for (const size of [1, 3, 7, 16]) {
      const chunks: Buffer[] = []
      for (let i = 0; i < whole.length; i += size) chunks.push(whole.subarray(i, i + size))
      expect(await collect(chunks)).toBe(expected)
    }
  })
})
