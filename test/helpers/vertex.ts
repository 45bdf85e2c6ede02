import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { startFakeGoogleCloud, type FakeGoogleCloud } from '../fakes/vertex.js'
import { fakeProvider } from './heimdall.js'

/** The service account the fake Google Cloud trusts: its project, region and email. */
export const VERTEX = {
  project: 'heimdall-test',
  region: 'us-east5',
  clientEmail: 'heimdall@heimdall-test.iam.gserviceaccount.com',
}

let pair: { privateKey: KeyObject; publicKey: KeyObject } | undefined
/** The service account's RSA key pair, made on first use (a 2048-bit key takes a moment). */
const keyPair = () => (pair ??= generateKeyPairSync('rsa', { modulusLength: 2048 }))

/** Starts a fake Google Cloud (OAuth token endpoint and Vertex) that trusts VERTEX's service account. */
export function startFakeVertexCloud(): Promise<FakeGoogleCloud> {
  return startFakeGoogleCloud({
    publicKeyPem: keyPair().publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    clientEmail: VERTEX.clientEmail,
    project: VERTEX.project,
    region: VERTEX.region,
  })
}

/** A Vertex provider on `cloud` whose one key is VERTEX's service account; `extra` as fakeProvider's. */
export function fakeVertexProvider(
  cloud: FakeGoogleCloud,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const credentials = JSON.stringify({
    type: 'service_account',
    project_id: VERTEX.project,
    private_key_id: 'k1',
    private_key: keyPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: VERTEX.clientEmail,
    token_uri: `${cloud.oauth.url}/token`,
  })
  return fakeProvider(cloud.vertex.url, extra, [
    {
      name: 'sa',
      models: ['*'],
      weight: 1,
      vertex_key_config: { project_id: VERTEX.project, region: VERTEX.region, auth_credentials: credentials },
    },
  ])
}
