import { describe, expect, it } from 'vitest'
import type { McpTool, McpToolSource } from '../types.js'
import { autoExecutableMetaTool } from './auto-execute.js'

const tool = (client: string, toolName: string): McpTool => ({
  name: `${client}-${toolName}`,
  client,
  toolName,
  inputSchema: { type: 'object' },
})

/** `weather` is a code-mode client whose get-forecast is auto-executed; `plain` is not code mode. */
const source: McpToolSource = {
  listTools: () => [tool('weather', 'get-forecast'), tool('weather', 'delete-city'), tool('plain', 'ping')],
  callTool: () => Promise.reject(new Error('not called')),
  autoExecutes: (name) => name === 'weather-get-forecast',
  onChange: () => () => undefined,
  isCodeModeClient: (client) => client === 'weather',
}

const runs = (code: string) => autoExecutableMetaTool(source, 'executeToolCode', { code }) !== undefined

describe('which code-mode calls agent mode runs without the caller', () => {
  it('always runs the read-only meta-tools', () => {
    for (const name of ['listToolFiles', 'readToolFile', 'getToolDocs'])
      expect(autoExecutableMetaTool(source, name, {})?.name).toBe(name)
    expect(autoExecutableMetaTool(source, 'weather-get-forecast', {})).toBeUndefined()
  })

  it('runs a script whose every tool call is auto-executed', () => {
    expect(runs("const a = await weather.get_forecast({ city: 'Oslo' })\nreturn a")).toBe(true)
    expect(runs('return 1 + 1')).toBe(true)
    expect(runs("return await weather . get_forecast ({ city: 'x' })")).toBe(true)
  })

  it('leaves to the caller a script that calls another tool, or uses a server other than by a direct call', () => {
    expect(runs("await weather.get_forecast({ city: 'a' }); await weather.delete_city({ city: 'a' })")).toBe(
      false,
    )
    expect(runs("const f = weather['delete_city']; return f({})")).toBe(false)
    expect(runs('const w = weather; return w.delete_city({})')).toBe(false)
    expect(runs('return weather.nowhere({})')).toBe(false)
    expect(autoExecutableMetaTool(source, 'executeToolCode', {})).toBeUndefined()
  })
})
