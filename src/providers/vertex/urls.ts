import { GatewayError } from '../../core/errors.js'
import { pathSegment } from '../../core/path-segment.js'

/** What a model's URL depends on. */
export interface VertexModelRef {
  region: string
  projectId: string
  projectNumber?: string
  /** The Vertex model ID, or a tuned model's numeric endpoint ID. */
  deployment: string
  publisher: 'google' | 'anthropic'
}

/**
 * `https://{host}/{version}` for a region (`global`, the `us` and `eu` multi-regions, or a region
 * such as `us-central1`), or `baseUrl` (without a trailing version) when one is configured.
 */
export function vertexRoot(region: string, version: 'v1' | 'v1beta1', baseUrl?: string): string {
  const base = baseUrl?.replace(/\/+$/, '').replace(/\/v1(beta1)?$/, '')
  if (base) return `${base}/${version}`
  const host =
    region === 'global'
      ? 'aiplatform.googleapis.com'
      : region === 'us' || region === 'eu'
        ? `aiplatform.${region}.rep.googleapis.com`
        : `${region}-aiplatform.googleapis.com`
  return `https://${host}/${version}`
}

/** The model's resource URL, up to and excluding `:method`. */
export function vertexModelUrl(ref: VertexModelRef, baseUrl?: string): string {
  const { region, projectId, projectNumber, deployment, publisher } = ref
  const dep = pathSegment(deployment)
  if (/^\d+$/.test(deployment)) {
    // A tuned model is an endpoint of the project, addressed by project number.
    if (!projectNumber) {
      throw new GatewayError(
        'provider_not_configured',
        `the tuned endpoint ${deployment} needs vertex_key_config.project_number`,
        { param: 'project_number', retryable: false },
      )
    }
    return `${vertexRoot(region, 'v1beta1', baseUrl)}/projects/${encodeURIComponent(projectNumber)}/locations/${region}/endpoints/${dep}`
  }
  return `${vertexRoot(region, 'v1', baseUrl)}/projects/${encodeURIComponent(projectId)}/locations/${region}/publishers/${publisher}/models/${dep}`
}
