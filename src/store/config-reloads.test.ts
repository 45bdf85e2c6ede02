import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConfigReloads } from './config-reloads.js'

describe('ConfigReloads', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('tries a failed reload again, waiting twice as long each time up to the longest wait', async () => {
    vi.useFakeTimers()
    const errors: string[] = []
    const reloads = new ConfigReloads({
      readVersion: () => Promise.resolve('1'),
      intervalMs: 0,
      firstRetryMs: 100,
      maxRetryMs: 400,
      onError: (err, what) => errors.push(`${what}: ${err.message}`),
    })
    let failures = 4
    const attempts: number[] = []
    reloads.add('providers', () => {
      attempts.push(Date.now())
      return failures-- > 0 ? Promise.reject(new Error('store down')) : Promise.resolve()
    })
    const start = Date.now()
    reloads.reload('providers')
    await vi.advanceTimersByTimeAsync(5000)
    expect(attempts.map((t) => t - start)).toEqual([0, 100, 300, 700, 1100])
    expect(errors).toEqual(Array(4).fill('providers reload: store down'))
    // Once it succeeded, nothing runs again.
    await vi.advanceTimersByTimeAsync(5000)
    expect(attempts).toHaveLength(5)
    reloads.close()
  })

  it('reloads everything when the change counter moved, and only then', async () => {
    let version = '1'
    const runs: string[] = []
    const reloads = new ConfigReloads({
      readVersion: () => Promise.resolve(version),
      intervalMs: 0,
      onError: () => undefined,
    })
    reloads.add('a', async () => void runs.push('a'))
    reloads.add('b', async () => void runs.push('b'))
    await reloads.check()
    expect(runs).toEqual(['a', 'b'])
    await reloads.check()
    expect(runs).toEqual(['a', 'b'])
    version = '2'
    await reloads.check()
    expect(runs).toEqual(['a', 'b', 'a', 'b'])
    reloads.close()
  })

  it('checks the counter again after a reload failed, until every reload succeeded', async () => {
    let down = true
    let loaded = 0
    const reloads = new ConfigReloads({
      readVersion: () => Promise.resolve('7'),
      intervalMs: 0,
      firstRetryMs: 60_000,
      onError: () => undefined,
    })
    reloads.add('governance', async () => {
      if (down) throw new Error('store down')
      loaded++
    })
    await reloads.check()
    expect(loaded).toBe(0)
    down = false
    await reloads.check()
    expect(loaded).toBe(1)
    await reloads.check()
    expect(loaded).toBe(1)
    reloads.close()
  })
})
