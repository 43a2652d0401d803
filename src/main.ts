import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startServer } from './server.js';
import { ConfigError, loadConfig, loadCredentials } from './model/config.js';
import { SavedModelError } from './model/persist.js';

/** Default port of the management API (`--api-port`). */
const DEFAULT_API_PORT = 8049;

const USAGE = `Usage: npm start -- [--data DIR] [--port PORT] [--host ADDR] [--lease-seconds N] [--config FILE] [--credentials FILE]
                      [--api-port PORT] [--api-host ADDR] [--log-level LEVEL]

Serves EFS-style file systems over NFSv4.1 and NFSv4.0, and the EFS management
API (aws efs ... --endpoint-url http://127.0.0.1:8049).
  --data DIR          where the file system lives (default ./data)
  --port PORT         NFS port (default 2049)
  --host ADDR         address to listen on (default 127.0.0.1)
  --lease-seconds N   NFSv4 lease time (default 90)
  --config FILE       file system policy, access points, mount targets, credentials (docs/config.md)
  --credentials FILE  access keys for IAM mounts and API calls (docs/config.md);
                      without it the API accepts any signature
  --api-port PORT     management API port (default 8049; 0 picks a free one)
  --api-host ADDR     management API address (default 127.0.0.1)
  --log-level LEVEL   pino level: fatal, error, warn, info, debug, trace (default info)`;

function fail(message: string): never {
  process.stderr.write(`localefs: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function intOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'lease-seconds': { type: 'string' },
        config: { type: 'string' },
        credentials: { type: 'string' },
        'api-port': { type: 'string' },
        'api-host': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const log = pino({ level: values['log-level'] ?? 'info', base: { svc: 'localefs' } });
  const dataDir = path.resolve(values.data ?? 'data');
  const port = intOption(values.port, '--port', 2049, 0, 65535);
  const leaseSeconds = intOption(values['lease-seconds'], '--lease-seconds', 90, 5, 3600);
  const host = values.host ?? '127.0.0.1';
  const api = { host: values['api-host'] ?? '127.0.0.1', port: intOption(values['api-port'], '--api-port', DEFAULT_API_PORT, 0, 65535) };
  let server;
  try {
    const config = values.config ? await loadConfig(values.config) : undefined;
    const credentials = values.credentials ? await loadCredentials(values.credentials) : undefined;
    server = await startServer({ dataDir, host, port, leaseSeconds, log, api, ...(config ? { config } : {}), ...(credentials ? { credentials } : {}) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { apiListen?: boolean };
    if (e.apiListen && e.code === 'EADDRINUSE') log.fatal(`API port ${api.port} on ${api.host} is in use: pass --api-port`);
    else if (e.apiListen) log.fatal({ err }, `cannot serve the API on ${api.host}:${api.port}: pass --api-host / --api-port`);
    else if (e.code === 'EADDRINUSE') log.fatal(`port ${port} on ${host} is in use: stop the other NFS server or pass --port`);
    else if (e.code === 'EACCES') log.fatal(`not allowed to listen on ${host}:${port}: use a port above 1023 or run as root`);
    else if (err instanceof ConfigError || err instanceof SavedModelError) log.fatal(err.message);
    else log.fatal({ err }, 'could not start');
    process.exit(1);
  }
  log.info(
    { fileSystemId: server.fileSystemId, host: server.host, port: server.port, apiEndpoint: server.apiEndpoint, dataDir, leaseSeconds, caFile: server.caFile },
    'localefs ready',
  );
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    server
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
