import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ENV_SETTINGS } from '../../pipelines/core/settings.ts'

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')
const SETTING_NAMES = ENV_SETTINGS.map((setting) => setting.name).sort()
const COMPOSE_SECTION = '# --- docker compose only ---'
const packageJson = JSON.parse(read('package.json')) as {
  bin: Record<string, string>
  scripts: Record<string, string>
  engines?: { node?: string }
}

const COMPOSE_FILE = 'docker-compose.yml'
/** The overlay that turns the compose deployment distributed. */
const DISTRIBUTED_FILE = 'deploy/compose.distributed.yml'

/** A compose file as compose reads it: YAML merge keys (`<<: *pipeline-environment`) applied. */
function composeFile(file: string): { services: Record<string, ComposeService> } {
  return parse(read(file), { merge: true }) as { services: Record<string, ComposeService> }
}

/** The compose client on this machine, if any: `docker compose` (v2), else `docker-compose` (v1). */
const COMPOSE_COMMAND = [['docker', 'compose'], ['docker-compose']].find((command) => {
  try {
    execFileSync(command[0] as string, [...command.slice(1), 'version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})

/** Names of the variables a part of .env.example sets or shows commented out. */
function variableNames(text: string): string[] {
  return [...text.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1] as string).sort()
}

interface ComposeService {
  image?: string
  build?: string
  ports?: string[]
  deploy?: { replicas?: number | string }
  depends_on?: Record<string, { condition: string }>
  init?: boolean
  restart?: string
  environment?: Record<string, string | number | null>
  env_file?: unknown
  volumes?: string[]
  stop_grace_period?: string
  command?: string[]
  healthcheck?: { test: string[] }
}

/** The ${NAME} a service's environment interpolates: what compose hands it from .env. */
function interpolatedNames(service: ComposeService): string[] {
  return [
    ...new Set(
      Object.values(service.environment ?? {}).flatMap((value) =>
        [...String(value).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1] as string),
      ),
    ),
  ].sort()
}

describe('.env.example', () => {
  const [programPart = '', composePart = ''] = read('.env.example').split(COMPOSE_SECTION)

  it('lists exactly the variables the program reads', () => {
    expect(variableNames(programPart)).toEqual(SETTING_NAMES)
  })

  it('lists as compose-only exactly the variables the compose files use beyond the program', () => {
    const interpolated = [COMPOSE_FILE, DISTRIBUTED_FILE].flatMap((file) =>
      [...read(file).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1] as string),
    )
    const composeOnly = [...new Set(interpolated.filter((name) => !SETTING_NAMES.includes(name)))].sort()
    expect(variableNames(composePart)).toEqual(composeOnly)
    expect(composeOnly).toEqual([
      'CALLTOUCH_ETL_WORKERS',
      'METABASE_APP_DB_PASSWORD',
      'METABASE_DB_PASSWORD',
      'POSTGRES_PASSWORD',
    ])
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
  const compose = composeFile(COMPOSE_FILE)
  const pipeline = compose.services['calltouch-etl'] as ComposeService

  it('runs the schedule command and waits for a clean stop', () => {
    expect(pipeline.command).toEqual(['schedule'])
    expect(pipeline.stop_grace_period).toBe('60s')
  })

  it('gets every variable the program reads one by one, and no other: never the whole .env, never a Metabase password', () => {
    expect(pipeline.env_file).toBeUndefined()
    // The embedded warehouse's directory means nothing beside DATABASE_URL.
    expect(Object.keys(pipeline.environment ?? {}).sort()).toEqual(
      SETTING_NAMES.filter((name) => name !== 'CALLTOUCH_ETL_DATA_DIR'),
    )
    expect(interpolatedNames(pipeline).filter((name) => !SETTING_NAMES.includes(name))).toEqual(['POSTGRES_PASSWORD'])
  })

  it('is healthy when calltouch-etl status is, which only reads', () => {
    expect(pipeline.healthcheck?.test).toEqual([
      'CMD',
      'node',
      ...NODE_FLAGS,
      packageJson.bin['calltouch-etl'],
      'status',
    ])
  })
})

describe('docker-compose.yml, every service', () => {
  const compose = composeFile(COMPOSE_FILE)

  it('restarts after a crash or a reboot, with an init process as PID 1', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect([name, service.restart]).toEqual([name, 'unless-stopped'])
      expect([name, service.init]).toEqual([name, true])
    }
  })

  it('gives Metabase a pinned version, its application database in PostgreSQL, and only its own password', () => {
    const metabase = compose.services.metabase as ComposeService
    expect(metabase.image).toMatch(/^metabase\/metabase:v\d+\.\d+\.\d+(\.\d+)?$/)
    expect(metabase.environment).toEqual({
      MB_DB_TYPE: 'postgres',
      MB_DB_HOST: 'postgres',
      MB_DB_PORT: 5432,
      MB_DB_DBNAME: 'metabase_app',
      MB_DB_USER: 'metabase_app',
      MB_DB_PASS: '${METABASE_APP_DB_PASSWORD:-}',
    })
    expect(metabase.volumes).toBeUndefined()
  })

  it("creates Metabase's application database on the first start of PostgreSQL, from a script that exists and is executable", () => {
    const postgres = compose.services.postgres as ComposeService
    expect(postgres.environment?.METABASE_APP_DB_PASSWORD).toBe('${METABASE_APP_DB_PASSWORD:-}')
    const script = 'deploy/postgres-init/20-metabase-app-database.sh'
    expect(statSync(new URL(`../../${script}`, import.meta.url)).mode & 0o111).not.toBe(0)
    expect(read(script)).toContain('create database metabase_app owner metabase_app;')
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

describe('the workers: docker-compose.yml and deploy/compose.distributed.yml over it', () => {
  const compose = composeFile(COMPOSE_FILE)
  const scheduler = compose.services['calltouch-etl'] as ComposeService
  const worker = compose.services.worker as ComposeService
  const redis = compose.services.redis as ComposeService
  const distributed = composeFile(DISTRIBUTED_FILE)

  it('are a worker service in the image of the scheduler, with its settings and its state, none started by default', () => {
    expect(worker.build).toBe(scheduler.build)
    expect(worker.command).toEqual(['worker'])
    expect(worker.deploy).toEqual({ replicas: 0 })
    // The same settings, so the same sites, tokens, ad accounts and warehouse; Redis the compose one unless .env names one.
    expect(worker.environment).toEqual({
      ...scheduler.environment,
      CALLTOUCH_ETL_REDIS_URL: '${CALLTOUCH_ETL_REDIS_URL:-redis://redis:6379}',
    })
    // The PII key and the VK Ads tokens: a worker hashing with another key would load other client_keys.
    expect(worker.volumes).toEqual(scheduler.volumes)
    expect(worker.env_file).toBeUndefined()
    expect(worker.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_started' },
    })
    // Longer than the 20 s a stopping worker lets its jobs finish before it puts them back.
    expect(worker.stop_grace_period).toBe('30s')
  })

  it('share a Redis of a pinned version that keeps nothing and is reached from the compose network only', () => {
    expect(redis.image).toMatch(/^redis:\d+\.\d+-alpine$/)
    expect(redis.command).toEqual(['redis-server', '--save', '', '--appendonly', 'no'])
    expect(redis.deploy).toEqual({ replicas: 0 })
    expect([redis.ports, redis.volumes, redis.environment]).toEqual([undefined, undefined, undefined])
  })

  it('start, CALLTOUCH_ETL_WORKERS of them, with Redis and the scheduler running schedule --distributed, from the overlay alone', () => {
    expect(distributed.services).toEqual({
      'calltouch-etl': { command: ['schedule', '--distributed'] },
      worker: { deploy: { replicas: '${CALLTOUCH_ETL_WORKERS:-3}' } },
      redis: { deploy: { replicas: 1 } },
    })
  })

  // docker compose (v2) or docker-compose (v1) only reads the files: no engine is needed.
  it.skipIf(COMPOSE_COMMAND === undefined)(
    'are valid compose files, and merged give 3 workers and the distributed scheduler',
    () => {
      const config = (files: readonly string[]): { services: Record<string, ComposeService> } =>
        parse(
          execFileSync(
            COMPOSE_COMMAND?.[0] as string,
            // .env.example, not a developer's own .env: the values a new deployment starts from.
            [
              ...(COMPOSE_COMMAND?.slice(1) ?? []),
              '--env-file',
              '.env.example',
              ...files.flatMap((file) => ['-f', file]),
              'config',
            ],
            { cwd: new URL('../..', import.meta.url), env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' },
          ),
        ) as { services: Record<string, ComposeService> }
      const single = config([COMPOSE_FILE])
      expect([single.services['calltouch-etl']?.command, single.services.worker?.deploy?.replicas]).toEqual([
        ['schedule'],
        0,
      ])
      const merged = config([COMPOSE_FILE, DISTRIBUTED_FILE])
      expect(merged.services['calltouch-etl']?.command).toEqual(['schedule', '--distributed'])
      expect([merged.services.worker?.deploy?.replicas, merged.services.redis?.deploy?.replicas]).toEqual([3, 1])
      expect(merged.services.worker?.environment?.CALLTOUCH_ETL_REDIS_URL).toBe('redis://redis:6379')
      expect(merged.services.worker?.environment?.DATABASE_URL).toBe(
        merged.services['calltouch-etl']?.environment?.DATABASE_URL,
      )
    },
  )
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

  it('runs a Node whose major package.json engines allows, and not an ended one (22 or later)', () => {
    const major = Number(/^FROM node:(\d+)[-\w.]*$/m.exec(dockerfile)?.[1])
    expect(major).toBeGreaterThanOrEqual(22)
    expect(nodeMajorSatisfies(major, packageJson.engines?.node ?? '')).toBe(true)
  })

  it('keeps secrets and local data out of the image', () => {
    const ignored = read('.dockerignore').split('\n')
    for (const path of ['.env', '.data', 'node_modules', '.git']) expect(ignored).toContain(path)
  })
})

/**
 * Whether every release of Node `major` satisfies an engines range of the forms this repository
 * uses (">=20.19", "^22.12", ">=20.19 <25", "22.x"); any other form fails, to be taught here.
 */
function nodeMajorSatisfies(major: number, range: string): boolean {
  return range
    .trim()
    .split(/\s+/)
    .every((part) => {
      const match = /^(>=|<|\^)?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?$/.exec(part)
      if (match === null)
        throw new Error(`engines.node part ${JSON.stringify(part)}: teach nodeMajorSatisfies its form`)
      const [, operator = '', wanted] = match
      const wantedMajor = Number(wanted)
      if (operator === '>=') return major >= wantedMajor
      if (operator === '<') return major < wantedMajor
      return major === wantedMajor
    })
}

describe('nodeMajorSatisfies', () => {
  it('reads the forms of engines.node', () => {
    expect([22, 24].map((major) => nodeMajorSatisfies(major, '>=20.19'))).toEqual([true, true])
    expect([20, 22, 24].map((major) => nodeMajorSatisfies(major, '>=22.12 <25'))).toEqual([false, true, true])
    expect([22, 24].map((major) => nodeMajorSatisfies(major, '^22.12'))).toEqual([true, false])
  })
})

describe('README, Deploy', () => {
  const deploy = read('README.md').split('\n## Deploy\n')[1]?.split('\n## ')[0] ?? ''

  it('walks through .env, docker compose and the Metabase connection', () => {
    expect(deploy).toContain('cp .env.example .env')
    expect(deploy).toContain('docker compose up -d')
    expect(deploy).toContain('METABASE_DB_PASSWORD')
    expect(deploy).toContain('METABASE_APP_DB_PASSWORD')
    expect(deploy).toContain('create database metabase_app owner metabase_app')
    expect(deploy).toContain("create role metabase login password 'YOUR-PASSWORD' in role calltouch_metabase")
  })
})
