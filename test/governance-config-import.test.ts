import { afterAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../src/core/errors.js'
import { importGovernanceFromFile } from '../src/governance/service.js'
import { backends } from './helpers/databases.js'
import { governanceRows, harness } from './helpers/governance-api.js'

/** config.json's governance section imported into the store at start. */

describe.each(backends('gov'))('governance API on $kind', (backend) => {
  afterAll(() => backend.teardown())

  it("imports config.json's governance: creates what the store lacks, leaves what it has", async () => {
    const h = await harness(backend)
    try {
      const file = {
        budgets: [
          { id: 'b-cust', max_limit: 1000, reset_duration: '1M' },
          { id: 'b-team', max_limit: 100, reset_duration: '1w' },
          { id: 'b-vk', max_limit: 10, reset_duration: '1d' },
          { id: 'b-vk-month', max_limit: 50, reset_duration: '1M', virtual_key_id: 'vk-file' },
          { id: 'b-pc', max_limit: 3, reset_duration: '1d' },
        ],
        rate_limits: [{ id: 'rl-vk', request_max_limit: 60, request_reset_duration: '1m' }],
        customers: [{ id: 'cust-file', name: 'File customer', budget_id: 'b-cust' }],
        teams: [{ id: 'team-file', name: 'File team', customer_id: 'cust-file', budget_id: 'b-team' }],
        virtual_keys: [
          {
            id: 'vk-file',
            name: 'from-file',
            value: 'sk-bf-file-value-0001',
            team_id: 'team-file',
            budget_id: 'b-vk',
            rate_limit_id: 'rl-vk',
            provider_configs: [
              { provider: 'openai', weight: 1, allowed_models: ['*'], key_ids: ['oa-2'], budget_id: 'b-pc' },
            ],
          },
          { id: 'vk-env', name: 'from-env', value: 'env.GOV_TEST_VK', expires_at: '2001-01-01T00:00:00Z' },
        ],
        routing_rules: [{ id: 'ignored' }],
      }
      h.changes.length = 0
      const result = await importGovernanceFromFile(h.service, file, {
        env: { GOV_TEST_VK: 'sk-bf-from-environment' },
      })
      expect(result.created).toEqual({
        customers: ['cust-file'],
        teams: ['team-file'],
        virtual_keys: ['vk-file', 'vk-env'],
      })
      expect(h.changes).toEqual([undefined])

      const vk = (await h.call('GET', '/api/governance/virtual-keys/vk-file')).body.virtual_key
      expect(vk).toMatchObject({
        name: 'from-file',
        value: 'sk-bf-…0001',
        team: { id: 'team-file', customer: { id: 'cust-file' } },
        rate_limit: { request_max_limit: 60, request_reset_duration: '1m' },
        provider_configs: [{ provider: 'openai', key_ids: ['oa-2'], budgets: [{ max_limit: 3 }] }],
      })
      expect(vk.config_hash).toMatch(/^[0-9a-f]{64}$/)
      expect(vk.budgets.map((b: any) => [b.reset_duration, b.max_limit])).toEqual([
        ['1d', 10],
        ['1M', 50],
      ])
      expect((await h.service.findVirtualKeyByValue('sk-bf-file-value-0001'))?.id).toBe('vk-file')
      expect((await h.service.findVirtualKeyByValue('sk-bf-from-environment'))?.id).toBe('vk-env')
      expect(await governanceRows(h.store)).not.toContain('sk-bf-file-value-0001')
      const team = (await h.call('GET', '/api/governance/teams/team-file')).body.team
      expect(team).toMatchObject({ budget: { max_limit: 100 }, customer: { budget: { max_limit: 1000 } } })

      // An API edit survives the next start; an entry deleted through the API comes back.
      await h.call('PUT', '/api/governance/virtual-keys/vk-file', { description: 'edited' })
      await h.call('DELETE', '/api/governance/virtual-keys/vk-env')
      const again = await importGovernanceFromFile(h.service, file, {
        env: { GOV_TEST_VK: 'sk-bf-from-environment' },
      })
      expect(again.kept).toEqual({
        customers: ['cust-file'],
        teams: ['team-file'],
        virtual_keys: ['vk-file'],
      })
      expect(again.created.virtual_keys).toEqual(['vk-env'])
      const edited = (await h.call('GET', '/api/governance/virtual-keys/vk-file')).body.virtual_key
      expect(edited.description).toBe('edited')

      const broken = { virtual_keys: [{ id: 'vk-broken', name: 'broken', budget_id: 'missing' }] }
      const error = await importGovernanceFromFile(h.service, broken).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(GatewayError)
      expect((error as Error).message).toContain('governance.virtual_keys.0.budget_id')
      const badShape = await importGovernanceFromFile(h.service, { teams: [{ id: 't' }] }).catch(
        (e: unknown) => e,
      )
      expect((badShape as Error).message).toContain('governance.teams.0')
      const clash = await importGovernanceFromFile(h.service, {
        virtual_keys: [{ id: 'vk-other', name: 'from-file' }],
      }).catch((e: unknown) => e)
      expect(clash).toMatchObject({ code: 'conflict' })
      expect((await h.call('GET', '/api/governance/virtual-keys')).body.total_count).toBe(2)
    } finally {
      await h.close()
    }
  })
})
