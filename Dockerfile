# The pipeline's image: the scheduler by default (docker-compose.yml), or any
# command: docker run --env-file .env calltouch-etl sync
# Node 24 (LTS); test/unit/deploy.test.ts checks the major against package.json engines.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
# Every folder the program reads at run time: the command, the code, the
# schema, the runtime SQL, the dbt project; the simulator and demo data serve
# `calltouch-etl demo` and `calltouch-etl simulator`.
COPY bin ./bin
COPY pipelines ./pipelines
COPY migrations ./migrations
COPY sql ./sql
COPY dbt ./dbt
COPY simulator ./simulator
COPY demo ./demo
COPY tsconfig.json ./
# The embedded warehouse (when DATABASE_URL is unset) must be writable by the user that runs.
# The state directory exists in the image, owned by node, so the compose volume mounted on it is too.
RUN mkdir -p /app/.data/state && chown -R node:node /app/.data && chmod 700 /app/.data/state
# The command's bundle (bin/prebuilt-cli.js), built once here as root: node cannot write
# node_modules at run time, and would otherwise start every command through tsx (~1 s more CPU).
RUN node bin/calltouch-etl.js --version
USER node
# Exec form: node itself is PID 1 and receives SIGTERM from docker stop (no shell in between).
ENTRYPOINT ["node", "--max-old-space-size=256", "bin/calltouch-etl.js"]
CMD ["schedule"]
