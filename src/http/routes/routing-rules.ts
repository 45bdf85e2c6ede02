import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { type RoutingRuntime, RULE_SCOPES } from '../../governance/index.js'
import { queryCount, queryFlag, queryText } from './governance.js'

/**
 * Bifrost's routing rules API, under both of its paths: `/api/routing/rules` (v2.0) and the
 * deprecated `/api/governance/routing-rules`, which behaves the same. An expression that does not
 * compile is refused here, with its position, never at request time.
 */
export function registerRoutingRuleRoutes(
  app: FastifyInstance,
  { routing }: { routing: RoutingRuntime },
): void {
  // Heimdall's own (Bifrost has no such route): which rule a sample request matches, and its target.
  app.post('/api/routing/rules/test', async (request) => routing.test(request.body))

  for (const base of ['/api/routing/rules', '/api/governance/routing-rules']) {
    app.get(base, async (request) => {
      const q = request.query
      queryFlag(q, 'from_memory')
      const scope = queryText(q, 'scope')
      if (scope !== undefined && !(RULE_SCOPES as readonly string[]).includes(scope)) {
        throw new GatewayError(
          'invalid_request',
          'Invalid scope parameter: one of global, customer, team, virtual_key',
          {
            param: 'scope',
          },
        )
      }
      const all = await routing.list({
        scope,
        scope_id: queryText(q, 'scope_id'),
        search: queryText(q, 'search'),
      })
      const offset = queryCount(q, 'offset') ?? 0
      const limit = queryCount(q, 'limit')
      const rules = all.slice(offset, limit === undefined ? undefined : offset + limit)
      return { rules, count: rules.length, total_count: all.length, limit: limit ?? all.length, offset }
    })

    app.post(base, async (request) => ({
      message: 'Routing rule created successfully',
      rule: await routing.create(request.body),
    }))

    app.get<{ Params: { rule_id: string } }>(`${base}/:rule_id`, async (request) => ({
      rule: await routing.get(request.params.rule_id),
    }))

    app.put<{ Params: { rule_id: string } }>(`${base}/:rule_id`, async (request) => ({
      message: 'Routing rule updated successfully',
      rule: await routing.update(request.params.rule_id, request.body),
    }))

    app.delete<{ Params: { rule_id: string } }>(`${base}/:rule_id`, async (request) => {
      await routing.delete(request.params.rule_id)
      return { message: 'Routing rule deleted successfully' }
    })
  }
}
