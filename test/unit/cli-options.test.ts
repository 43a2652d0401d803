/** The command line and LOCALEFS_* variables (src/cli/options.ts), the pretty log lines, the summary. */
import { describe, expect, test } from 'vitest';
import { OPTIONS, OptionError, parseOptions, usage } from '../../src/cli/options.js';
import { formatLine } from '../../src/cli/pretty.js';
import { startupSummary } from '../../src/cli/summary.js';

describe('options', () => {
  test('defaults with no flags and no variables', () => {
    expect(parseOptions([], {})).toEqual({
      ephemeral: false,
      port: 2049,
      host: '127.0.0.1',
      leaseSeconds: 90,
      apiPort: 8049,
      apiHost: '127.0.0.1',
      enableReset: false,
      logLevel: 'info',
      help: false,
    });
  });

  test('every flag has its LOCALEFS_ variable, and the variables alone set everything', () => {
    expect(OPTIONS.map((o) => o.env)).toEqual([
      'LOCALEFS_DATA',
      'LOCALEFS_EPHEMERAL',
      'LOCALEFS_PORT',
      'LOCALEFS_HOST',
      'LOCALEFS_LEASE_SECONDS',
      'LOCALEFS_CONFIG',
      'LOCALEFS_CREDENTIALS',
      'LOCALEFS_API_PORT',
      'LOCALEFS_API_HOST',
      'LOCALEFS_ENABLE_RESET',
      'LOCALEFS_LOG_LEVEL',
      'LOCALEFS_LOG_FORMAT',
    ]);
    const env = {
      LOCALEFS_DATA: '/srv/efs',
      LOCALEFS_PORT: '12049',
      LOCALEFS_HOST: '0.0.0.0',
      LOCALEFS_LEASE_SECONDS: '30',
      LOCALEFS_CONFIG: '/etc/localefs.json',
      LOCALEFS_CREDENTIALS: '/etc/keys.json',
      LOCALEFS_API_PORT: '18049',
      LOCALEFS_API_HOST: '0.0.0.0',
      LOCALEFS_ENABLE_RESET: 'true',
      LOCALEFS_LOG_LEVEL: 'debug',
      LOCALEFS_LOG_FORMAT: 'json',
    };
    expect(parseOptions([], env)).toEqual({
      data: '/srv/efs',
      ephemeral: false,
      port: 12049,
      host: '0.0.0.0',
      leaseSeconds: 30,
      config: '/etc/localefs.json',
      credentials: '/etc/keys.json',
      apiPort: 18049,
      apiHost: '0.0.0.0',
      enableReset: true,
      logLevel: 'debug',
      logFormat: 'json',
      help: false,
    });
    expect(parseOptions([], { LOCALEFS_EPHEMERAL: '1' }).ephemeral).toBe(true);
  });

  test('a flag wins over its variable', () => {
    expect(parseOptions(['--port', '3049', '--enable-reset'], { LOCALEFS_PORT: '4049', LOCALEFS_ENABLE_RESET: '0' })).toMatchObject({ port: 3049, enableReset: true });
  });

  test('bad values name where they came from', () => {
    const message = (argv: string[], env: Record<string, string>) => {
      try {
        parseOptions(argv, env);
      } catch (err) {
        expect(err).toBeInstanceOf(OptionError);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(message([], { LOCALEFS_PORT: 'nfs' })).toBe('LOCALEFS_PORT must be an integer from 0 to 65535, got "nfs"');
    expect(message(['--port', '70000'], {})).toBe('--port must be an integer from 0 to 65535, got "70000"');
    expect(message([], { LOCALEFS_ENABLE_RESET: 'maybe' })).toBe('LOCALEFS_ENABLE_RESET must be true or false (1/0, yes/no), got "maybe"');
    expect(message([], { LOCALEFS_LOG_FORMAT: 'xml' })).toBe('LOCALEFS_LOG_FORMAT must be one of pretty, json, got "xml"');
    expect(message(['--ephemeral', '--data', 'x'], {})).toBe(
      '--ephemeral and --data (LOCALEFS_EPHEMERAL, LOCALEFS_DATA) exclude each other: an ephemeral run makes its own temporary directory',
    );
    expect(message(['--bogus'], {})).toMatch(/^Unknown option '--bogus'/);
  });

  test('the usage text lists every flag with its variable', () => {
    const text = usage();
    for (const o of OPTIONS) {
      expect(text).toContain(`--${o.flag}`);
      expect(text).toContain(`env ${o.env}`);
    }
  });
});

describe('terminal output', () => {
  test('a pino line becomes time, level, message and key=value fields', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 11, 5, 18, 30, 1), pid: 1, hostname: 'h', svc: 'localefs', msg: 'mount target could not listen', mountTargetId: 'fsmt-1', ipAddress: '10.0.0.1', note: 'two words' });
    expect(formatLine(line)).toBe('18:30:01 WARN  mount target could not listen  mountTargetId=fsmt-1 ipAddress=10.0.0.1 note="two words"');
    expect(formatLine('not json')).toBe('not json');
  });

  test('the summary gives the addresses, the CA and a mount command to copy', () => {
    const text = startupSummary({
      version: '0.1.0',
      fileSystemId: 'fs-0123456789abcdef0',
      dataDir: '/srv/efs',
      ephemeral: false,
      nfsHost: '0.0.0.0',
      nfsPort: 2049,
      apiEndpoint: 'http://0.0.0.0:8049',
      caFile: '/srv/efs/tls/ca.pem',
      region: 'us-east-1',
    });
    expect(text.split('\n')).toEqual([
      'localefs 0.1.0 ready',
      '  file system  fs-0123456789abcdef0  (region us-east-1)',
      '  data         /srv/efs',
      '  NFS          0.0.0.0:2049  (NFSv4.1 and 4.0, plain and TLS)',
      '  EFS API      http://0.0.0.0:8049  (and https://0.0.0.0:8049)',
      '  health       http://0.0.0.0:8049/_localefs/health',
      '  CA           /srv/efs/tls/ca.pem',
      '',
      '  mount it (Linux NFS client):',
      '    sudo mount -t nfs4 -o nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport 127.0.0.1:/ /mnt/efs',
      '  call the API:',
      '    aws efs describe-file-systems --endpoint-url http://127.0.0.1:8049 --region us-east-1',
      '',
    ]);
  });
});
