# The pipeline's image: the scheduler by default (docker-compose.yml), or any
# command: docker run calltouch-etl sync
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY pipelines ./pipelines
COPY migrations ./migrations
COPY sql ./sql
COPY dbt ./dbt
COPY tsconfig.json ./
USER node
ENTRYPOINT ["node", "bin/calltouch-etl.js"]
CMD ["schedule"]
