#!/usr/bin/env node
/**
 * The command: options from flags and LOCALEFS_* variables (src/cli/options.ts),
 * a readable summary and log lines on a terminal or pino JSON lines otherwise,
 * then serve until SIGTERM/SIGINT.
 */
import path from 'node:path';
import pino from 'pino';
import { ConfigError } from './model/config.js';
import { SavedModelError } from './model/persist.js';
import { OptionError, parseOptions, usage, type CliOptions } from './cli/options.js';
import { prettyDestination } from './cli/pretty.js';
import { startupSummary } from './cli/summary.js';
import { startLocalEfs, type LocalEfs } from './index.js';
import { LOCALEFS_VERSION } from './version.js';

function fail(message: string): never {
  process.stderr.write(`localefs: ${message}\n\n${usage()}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let o: CliOptions;
  try {
    o = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof OptionError) fail(err.message);
    throw err;
  }
  if (o.help) {
    process.stdout.write(usage() + '\n');
    return;
  }
  const pretty = (o.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty';
  const log = pretty
    ? pino({ level: o.logLevel, base: { svc: 'localefs' } }, prettyDestination(process.stderr))
    : pino({ level: o.logLevel, base: { svc: 'localefs' } });
  const dataDir = o.data !== undefined ? path.resolve(o.data) : o.ephemeral ? undefined : path.resolve('data');
  let efs: LocalEfs;
  try {
    efs = await startLocalEfs({
      ...(dataDir !== undefined ? { dataDir } : {}),
      ephemeral: o.ephemeral,
      host: o.host,
      port: o.port,
      apiHost: o.apiHost,
      apiPort: o.apiPort,
      leaseSeconds: o.leaseSeconds,
      enableReset: o.enableReset,
      logger: log,
      ...(o.config !== undefined ? { config: o.config } : {}),
      ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { apiListen?: boolean };
    if (e.apiListen && e.code === 'EADDRINUSE') log.fatal(`API port ${o.apiPort} on ${o.apiHost} is in use: pass --api-port (LOCALEFS_API_PORT)`);
    else if (e.apiListen) log.fatal({ err }, `cannot serve the API on ${o.apiHost}:${o.apiPort}: pass --api-host / --api-port`);
    else if (e.code === 'EADDRINUSE') log.fatal(`port ${o.port} on ${o.host} is in use: stop the other NFS server or pass --port (LOCALEFS_PORT)`);
    else if (e.code === 'EACCES' && e.syscall === 'listen') log.fatal(`not allowed to listen on ${o.host}:${o.port}: use a port above 1023 or run as root`);
    else if (e.code === 'EACCES' || e.code === 'EROFS') log.fatal(`cannot write the data directory (${e.path ?? dataDir}): ${e.code}; give the user localefs runs as (uid ${process.getuid?.()}) write access, e.g. chown the volume`);
    else if (err instanceof ConfigError || err instanceof SavedModelError) log.fatal(err.message);
    else log.fatal({ err }, 'could not start');
    log.flush?.();
    process.exit(1);
  }
  log.info(
    { fileSystemId: efs.fileSystemId, host: efs.nfsHost, port: efs.nfsPort, apiEndpoint: efs.apiEndpoint, dataDir: efs.dataDir, ephemeral: efs.ephemeral, leaseSeconds: o.leaseSeconds, caFile: efs.caFile },
    'localefs ready',
  );
  if (pretty) {
    process.stdout.write(
      '\n' +
        startupSummary({ ...efs, version: LOCALEFS_VERSION }) +
        '\n',
    );
  }
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    efs
      .stop()
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
