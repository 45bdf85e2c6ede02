import type { FastifyInstance } from 'fastify'

export interface HealthDeps {
  /** Pings the stores; rejects when one is unreachable. */
  pingStores: () => Promise<void>
}

export function registerHealthRoutes(app: FastifyInstance, { pingStores }: HealthDeps): void {
  app.get('/health', async (_request, reply) => {
    try {
      await Promise.race([
        pingStores(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('store ping timed out')), 10_000).unref(),
        ),
      ])
      return reply.send({ status: 'ok', components: { db_pings: 'ok' } })
    } catch (err) {
      return reply.code(503).send({
        is_bifrost_error: true,
        status_code: 503,
        error: {
          type: 'service_unavailable',
          code: 'store_unavailable',
          message: `store unreachable: ${(err as Error).message}`,
        },
      })
    }
  })
}
