/**
 * The command line's options, each also an environment variable
 * (LOCALEFS_<NAME>, as LocalStack and moto users configure containers): one
 * table, from which the parser, the usage text and docs/configuration.md's
 * list come. A flag wins over its variable.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  flag: string;
  env: string;
  kind: 'string' | 'int' | 'boolean' | 'choice';
  /** Shown in the usage text. */
  arg?: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  defaultText: string;
  help: string;
}

const env = (flag: string): string => `LOCALEFS_${flag.toUpperCase().replace(/-/g, '_')}`;
const opt = (flag: string, s: Omit<OptionSpec, 'flag' | 'env'>): OptionSpec => ({ flag, env: env(flag), ...s });

export const OPTIONS: readonly OptionSpec[] = [
  opt('data', { kind: 'string', arg: 'DIR', defaultText: './data', help: 'where the file systems live' }),
  opt('ephemeral', { kind: 'boolean', defaultText: 'off', help: 'data in a new temporary directory, removed at exit (not with --data)' }),
  opt('port', { kind: 'int', arg: 'PORT', min: 0, max: 65535, defaultText: '2049', help: 'NFS port, plain and TLS (0 picks a free one)' }),
  opt('host', { kind: 'string', arg: 'ADDR', defaultText: '127.0.0.1', help: 'address the default mount target listens on (0.0.0.0 in a container)' }),
  opt('lease-seconds', { kind: 'int', arg: 'N', min: 5, max: 3600, defaultText: '90', help: 'NFSv4 lease time' }),
  opt('config', { kind: 'string', arg: 'FILE', defaultText: 'none', help: 'policies, access points, mount targets, security groups, limits (docs/config.md)' }),
  opt('credentials', { kind: 'string', arg: 'FILE', defaultText: 'none', help: 'access keys and identity policies; without it the API accepts any signature' }),
  opt('api-port', { kind: 'int', arg: 'PORT', min: 0, max: 65535, defaultText: '8049', help: 'management API port, HTTP and HTTPS (0 picks a free one)' }),
  opt('api-host', { kind: 'string', arg: 'ADDR', defaultText: '127.0.0.1', help: 'management API address' }),
  opt('enable-reset', { kind: 'boolean', defaultText: 'off', help: 'allow POST /_localefs/reset (refused with --credentials)' }),
  opt('log-level', { kind: 'choice', arg: 'LEVEL', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], defaultText: 'info', help: 'pino level' }),
  opt('log-format', { kind: 'choice', arg: 'FORMAT', choices: ['pretty', 'json'], defaultText: 'pretty on a terminal, else json', help: 'readable lines, or pino JSON lines' }),
];

export interface CliOptions {
  data?: string;
  ephemeral: boolean;
  port: number;
  host: string;
  leaseSeconds: number;
  config?: string;
  credentials?: string;
  apiPort: number;
  apiHost: string;
  enableReset: boolean;
  logLevel: string;
  logFormat?: 'pretty' | 'json';
  help: boolean;
}

export class OptionError extends Error {}

export function usage(): string {
  const lines = OPTIONS.map((o) => {
    const left = `  --${o.flag}${o.arg ? ` ${o.arg}` : ''}`;
    const choices = o.choices ? ` (${o.choices.join(', ')})` : '';
    return `${left.padEnd(24)}${o.help}${choices}; default ${o.defaultText}\n${''.padEnd(24)}env ${o.env}`;
  });
  return [
    'Usage: localefs [options]    (npm start -- [options], npx localefs [options])',
    '',
    'Serves EFS-style file systems over NFSv4.1 and NFSv4.0 (plain and TLS on one port), and',
    'the EFS management API (aws efs ... --endpoint-url http://127.0.0.1:8049).',
    'Every option is also an environment variable; a flag wins over its variable.',
    '',
    ...lines,
    '  --help                print this',
  ].join('\n');
}

function parseBoolean(value: string, name: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new OptionError(`${name} must be true or false (1/0, yes/no), got "${value}"`);
}

function parseInt(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new OptionError(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Flags first, then LOCALEFS_* variables, then defaults. Throws OptionError with a message for the user. */
export function parseOptions(argv: readonly string[], environment: NodeJS.ProcessEnv): CliOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
    for (const o of OPTIONS) options[o.flag] = { type: o.kind === 'boolean' ? 'boolean' : 'string' };
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new OptionError((err as Error).message);
  }
  const raw = (o: OptionSpec): { value: string | boolean; from: string } | undefined => {
    const v = values[o.flag];
    if (v !== undefined) return { value: v, from: `--${o.flag}` };
    const e = environment[o.env];
    if (e !== undefined) return { value: e, from: o.env };
    return undefined;
  };
  const get = <T>(flag: string, fallback: T): T | string | number | boolean => {
    const o = OPTIONS.find((x) => x.flag === flag)!;
    const r = raw(o);
    if (!r) return fallback;
    if (o.kind === 'boolean') return typeof r.value === 'boolean' ? r.value : parseBoolean(r.value, r.from);
    const s = String(r.value);
    if (o.kind === 'int') return parseInt(s, r.from, o.min!, o.max!);
    if (o.kind === 'choice' && !o.choices!.includes(s)) throw new OptionError(`${r.from} must be one of ${o.choices!.join(', ')}, got "${s}"`);
    if (s === '') throw new OptionError(`${r.from} is empty`);
    return s;
  };
  const out: CliOptions = {
    ephemeral: get('ephemeral', false) as boolean,
    port: get('port', 2049) as number,
    host: get('host', '127.0.0.1') as string,
    leaseSeconds: get('lease-seconds', 90) as number,
    apiPort: get('api-port', 8049) as number,
    apiHost: get('api-host', '127.0.0.1') as string,
    enableReset: get('enable-reset', false) as boolean,
    logLevel: get('log-level', 'info') as string,
    help: values.help === true,
  };
  const data = get('data', undefined);
  if (data !== undefined) out.data = data as string;
  const config = get('config', undefined);
  if (config !== undefined) out.config = config as string;
  const credentials = get('credentials', undefined);
  if (credentials !== undefined) out.credentials = credentials as string;
  const format = get('log-format', undefined);
  if (format !== undefined) out.logFormat = format as 'pretty' | 'json';
  if (out.ephemeral && out.data !== undefined) throw new OptionError('--ephemeral and --data (LOCALEFS_EPHEMERAL, LOCALEFS_DATA) exclude each other: an ephemeral run makes its own temporary directory');
  return out;
}
