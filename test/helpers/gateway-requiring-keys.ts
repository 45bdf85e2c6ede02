import { afterAll, beforeAll } from 'vitest'
import { startFakeOpenAIWithMedia } from '../fakes/azure.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './heimdall.js'

/** Heimdall and its fake OpenAI, as gatewayRequiringKeys() leaves them for a describe's tests. */
export interface GatewayRequiringKeys {
  gw: RunningHeimdall
  fake: Awaited<ReturnType<typeof startFakeOpenAIWithMedia>>
}

/**
 * For a describe: Heimdall with enforce_auth_on_inference (every inference call needs a virtual
 * key), OpenAI answered by the media fake; started before the describe's tests, closed after them.
 */
export function gatewayRequiringKeys(): GatewayRequiringKeys {
  const started = {} as GatewayRequiringKeys
  beforeAll(async () => {
    started.fake = await startFakeOpenAIWithMedia()
    started.gw = await startHeimdall({
      client: { enforce_auth_on_inference: true },
      providers: { openai: fakeProvider(started.fake.server.url) },
    })
  })
  afterAll(async () => {
    await started.gw?.close()
    await started.fake?.close()
  })
  return started
}
