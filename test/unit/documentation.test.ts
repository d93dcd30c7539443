import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ENV_SETTINGS } from '../../pipelines/core/settings.ts'

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
const SETTING_NAMES = ENV_SETTINGS.map((setting) => setting.name).sort()

interface ComposeFile {
  services: Record<string, { environment?: Record<string, string>; build?: string; command?: string[]; image?: string }>
}

describe('README', () => {
  const readme = read('README.md')

  it('shows the two set-up commands first and the test command', () => {
    expect(readme).toContain('```sh\nnpm ci\nnpx calltouch-etl demo\n```')
    expect(readme).toContain('```sh\nnpm test\n```')
  })

  it('documents exactly the environment variables the program reads', () => {
    const section = readme.split('\n## Configuration\n')[1]?.split('\n## ')[0] ?? ''
    const documented = [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]).sort()
    expect(documented).toEqual(SETTING_NAMES)
  })
})

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as ComposeFile

  it('runs PostgreSQL, the pipeline and Metabase, and defines the workers and their Redis', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['calltouch-etl', 'metabase', 'postgres', 'redis', 'worker'])
    expect(compose.services['calltouch-etl']?.build).toBe('.')
  })

  it('gives the pipeline only variables the program reads, and a postgres:// warehouse on the compose database', () => {
    const environment = compose.services['calltouch-etl']?.environment ?? {}
    for (const name of Object.keys(environment)) expect(SETTING_NAMES).toContain(name)
    const postgres = compose.services.postgres?.environment ?? {}
    expect(environment.DATABASE_URL).toBe(
      `postgres://${postgres.POSTGRES_USER}:\${POSTGRES_PASSWORD:-calltouch}@postgres:5432/${postgres.POSTGRES_DB}`,
    )
  })
})
