import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { verifySignature, type FakeBedrockCredentials } from './bedrock.js'
import { FakeServer } from './server.js'

/**
 * A fake of Bedrock's control plane for batch inference, in AWS's published wire format:
 * `POST /model-invocation-job` (CreateModelInvocationJob → `{jobArn}`), `GET /model-invocation-jobs`
 * (`invocationJobSummaries`, `maxResults`/`nextToken`, `statusEquals`, `nameContains`),
 * `GET /model-invocation-job/{jobIdentifier}` (an ARN or the job id) and `POST .../stop` (an empty
 * 200; a job already ended answers ValidationException). Every request must carry a SigV4 signature
 * (service `bedrock`) made with one of `credentials`, checked as the runtime fake checks it.
 */
export interface FakeBedrockJobs {
  server: FakeServer
  url: string
  jobs: Map<string, Record<string, unknown>>
  close(): Promise<void>
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-requestid': randomBytes(8).toString('hex'),
  })
  res.end(body === undefined ? '' : JSON.stringify(body))
}

function awsError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
  })
  res.end(JSON.stringify({ message }))
}

const REQUIRED = ['jobName', 'roleArn', 'modelId', 'inputDataConfig', 'outputDataConfig']

export async function startFakeBedrockJobs(credentials: FakeBedrockCredentials[]): Promise<FakeBedrockJobs> {
  const jobs = new Map<string, Record<string, unknown>>()

  const server = await new FakeServer(async (ctx) => {
    const { req, res, body } = ctx
    const raw = typeof body === 'string' ? body : JSON.stringify(body)
    const authError = await verifySignature(ctx, credentials, raw)
    if (authError)
      return awsError(res, 403, authError, 'The security token included in the request is invalid.')
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization))?.[1]
    const url = new URL(req.url ?? '/', 'http://fake')

    if (req.method === 'POST' && url.pathname === '/model-invocation-job') {
      const missing = REQUIRED.find((k) => body?.[k] === undefined)
      if (missing)
        return awsError(
          res,
          400,
          'ValidationException',
          `Value at '${missing}' failed to satisfy constraint: Member must not be null`,
        )
      const id = randomBytes(6).toString('hex')
      const jobArn = `arn:aws:bedrock:${region}:123456789012:model-invocation-job/${id}`
      const now = new Date().toISOString()
      jobs.set(id, {
        jobArn,
        jobName: body.jobName,
        modelId: body.modelId,
        roleArn: body.roleArn,
        status: 'Submitted',
        submitTime: now,
        lastModifiedTime: now,
        inputDataConfig: body.inputDataConfig,
        outputDataConfig: body.outputDataConfig,
        timeoutDurationInHours: body.timeoutDurationInHours ?? 24,
      })
      return send(res, 200, { jobArn })
    }

    if (req.method === 'GET' && url.pathname === '/model-invocation-jobs') {
      const status = url.searchParams.get('statusEquals')
      const name = url.searchParams.get('nameContains')
      const all = [...jobs.values()].filter(
        (j) => (!status || j.status === status) && (!name || String(j.jobName).includes(name)),
      )
      const max = Number(url.searchParams.get('maxResults') ?? 1000)
      const start = Number(url.searchParams.get('nextToken') ?? 0)
      return send(res, 200, {
        invocationJobSummaries: all.slice(start, start + max),
        ...(start + max < all.length && { nextToken: String(start + max) }),
      })
    }

    const m = /^\/model-invocation-job\/([^/]+)(\/stop)?$/.exec(url.pathname)
    if (!m) return awsError(res, 404, 'UnknownOperationException', 'unknown operation')
    const identifier = decodeURIComponent(m[1])
    const job = jobs.get(identifier.split('/').pop()!)
    if (!job || (identifier.startsWith('arn:') && job.jobArn !== identifier))
      return awsError(res, 404, 'ResourceNotFoundException', `The specified job ${identifier} was not found.`)
    if (req.method === 'GET' && !m[2]) return send(res, 200, job)
    if (req.method === 'POST' && m[2]) {
      if (job.status !== 'Submitted' && job.status !== 'InProgress')
        return awsError(
          res,
          400,
          'ValidationException',
          `Job cannot be stopped in status ${String(job.status)}.`,
        )
      job.status = 'Stopping'
      job.lastModifiedTime = new Date().toISOString()
      return send(res, 200, undefined)
    }
    return awsError(res, 404, 'UnknownOperationException', 'unknown operation')
  }).start()

  return { server, url: server.url, jobs, close: () => server.close() }
}
