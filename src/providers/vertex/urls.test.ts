import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../core/errors.js'
import { vertexModelUrl } from './urls.js'

const ref = {
  region: 'us-central1',
  projectId: 'my-proj',
  deployment: 'gemini-2.5-flash',
  publisher: 'google' as const,
}

describe('vertexModelUrl', () => {
  it('puts a regional model under the region host', () => {
    expect(vertexModelUrl(ref)).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash',
    )
  })

  it('uses aiplatform.googleapis.com for global and the rep hosts for the us and eu multi-regions', () => {
    expect(vertexModelUrl({ ...ref, region: 'global' })).toMatch(
      /^https:\/\/aiplatform\.googleapis\.com\/v1\/projects\/my-proj\/locations\/global\//,
    )
    expect(
      vertexModelUrl({
        ...ref,
        region: 'eu',
        publisher: 'anthropic',
        deployment: 'claude-opus-4-1@20250805',
      }),
    ).toBe(
      'https://aiplatform.eu.rep.googleapis.com/v1/projects/my-proj/locations/eu/publishers/anthropic/models/claude-opus-4-1%4020250805',
    )
  })

  it('addresses a tuned model as an endpoint of the project number, and needs that number', () => {
    expect(vertexModelUrl({ ...ref, deployment: '4567', projectNumber: '123' })).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1beta1/projects/123/locations/us-central1/endpoints/4567',
    )
    expect(() => vertexModelUrl({ ...ref, deployment: '4567' })).toThrow(GatewayError)
  })

  it('replaces the host with a configured base URL, with or without its version', () => {
    for (const base of ['http://127.0.0.1:9/', 'http://127.0.0.1:9/v1'])
      expect(vertexModelUrl(ref, base)).toBe(
        'http://127.0.0.1:9/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash',
      )
  })
})
