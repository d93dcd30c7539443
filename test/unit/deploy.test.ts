import { readFileSync, statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ENV_SETTINGS } from '../../pipelines/core/settings.ts'

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
const SETTING_NAMES = ENV_SETTINGS.map((setting) => setting.name).sort()
const COMPOSE_SECTION = '# --- docker compose only ---'
const packageJson = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> }

/** Names of the variables a part of .env.example sets or shows commented out. */
function variableNames(text: string): string[] {
  return [...text.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1] as string).sort()
}

interface ComposeService {
  environment?: Record<string, string | null>
  env_file?: { path: string; required: boolean }[]
  volumes?: string[]
  stop_grace_period?: string
  command?: string[]
}

describe('.env.example', () => {
  const [programPart = '', composePart = ''] = read('.env.example').split(COMPOSE_SECTION)

  it('lists exactly the variables the program reads', () => {
    expect(variableNames(programPart)).toEqual(SETTING_NAMES)
  })

  it('lists as compose-only exactly the variables docker-compose.yml uses beyond the program', () => {
    const interpolated = [...read('docker-compose.yml').matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map(
      (match) => match[1] as string,
    )
    const composeOnly = [...new Set(interpolated.filter((name) => !SETTING_NAMES.includes(name)))].sort()
    expect(variableNames(composePart)).toEqual(composeOnly)
    expect(composeOnly).toEqual(['METABASE_DB_PASSWORD', 'POSTGRES_PASSWORD'])
  })

  it('never sets a real secret, only placeholders', () => {
    const secrets = ENV_SETTINGS.filter((setting) => setting.secret === true).map((setting) => setting.name)
    for (const line of read('.env.example').split('\n')) {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
      if (match && (secrets.includes(match[1] as string) || /PASSWORD/.test(match[1] as string)))
        expect(match[2]).toMatch(/^change-me/)
    }
  })
})

describe('docker-compose.yml, the scheduler service', () => {
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> }
  const pipeline = compose.services['calltouch-etl'] as ComposeService

  it('runs the schedule command, reads .env when there is one, and waits for a clean stop', () => {
    expect(pipeline.command).toEqual(['schedule'])
    expect(pipeline.env_file).toEqual([{ path: '.env', required: false }])
    expect(pipeline.stop_grace_period).toBe('60s')
  })

  it('sets only variables the program reads', () => {
    expect(Object.keys(pipeline.environment ?? {}).filter((name) => !SETTING_NAMES.includes(name))).toEqual([])
  })

  it('creates the Metabase login on the first start of PostgreSQL from a script that exists and is executable', () => {
    const postgres = compose.services.postgres as ComposeService
    expect(postgres.volumes).toContain('./deploy/postgres-init:/docker-entrypoint-initdb.d:ro')
    expect(postgres.environment?.METABASE_DB_PASSWORD).toBe('${METABASE_DB_PASSWORD:-}')
    const script = 'deploy/postgres-init/10-metabase-login.sh'
    expect(statSync(new URL(`../../${script}`, import.meta.url)).mode & 0o111).not.toBe(0)
    expect(read(script)).toContain("create role metabase login password :'password' in role calltouch_metabase;")
  })
})

/** The flags the command's own shebang gives node (the heap cap); every other way of starting it must give the same. */
const NODE_FLAGS = (/^#!\/usr\/bin\/env -S node (.+)$/m.exec(read('bin/calltouch-etl.js'))?.[1] ?? '').split(' ')

describe('the heap cap', () => {
  it('is the same however the command starts: npx (the shebang), npm run demo and the image', () => {
    expect(NODE_FLAGS).toEqual(['--max-old-space-size=256'])
    expect(packageJson.scripts.demo).toBe(`node ${NODE_FLAGS.join(' ')} ${packageJson.bin['calltouch-etl']} demo`)
  })
})

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile')
  const copied = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((match) => (match[1] as string).split(' '))

  it('copies every folder and file the program reads at run time', () => {
    for (const path of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'bin',
      'pipelines',
      'migrations',
      'sql',
      'dbt',
      'simulator',
      'demo',
    ]) {
      expect(copied).toContain(path)
      expect(
        statSync(new URL(`../../${path}`, import.meta.url)).isFile() ||
          statSync(new URL(`../../${path}`, import.meta.url)).isDirectory(),
      ).toBe(true)
    }
  })

  it('installs from the lock file without dev dependencies, and runs the package bin as its entrypoint with the scheduler by default', () => {
    expect(dockerfile).toContain('RUN npm ci --omit=dev')
    expect(dockerfile).toContain(
      `ENTRYPOINT ["node", ${NODE_FLAGS.map((flag) => `"${flag}", `).join('')}"${packageJson.bin['calltouch-etl']}"]`,
    )
    expect(dockerfile).toContain('CMD ["schedule"]')
    expect(dockerfile).toMatch(/^USER node$/m)
  })

  it('keeps secrets and local data out of the image', () => {
    const ignored = read('.dockerignore').split('\n')
    for (const path of ['.env', '.data', 'node_modules', '.git']) expect(ignored).toContain(path)
  })
})

describe('README, Deploy', () => {
  const deploy = read('README.md').split('\n## Deploy\n')[1]?.split('\n## ')[0] ?? ''

  it('walks through .env, docker compose and the Metabase connection', () => {
    expect(deploy).toContain('cp .env.example .env')
    expect(deploy).toContain('docker compose up -d')
    expect(deploy).toContain('METABASE_DB_PASSWORD')
    expect(deploy).toContain("create role metabase login password 'YOUR-PASSWORD' in role calltouch_metabase")
  })
})
