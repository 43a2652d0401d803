/** Debian's AWS CLI as the e2e tests run it (by full path: another `aws` may come first on PATH). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const AWS = '/usr/bin/aws';

/**
 * The CLI's environment: the caller's, minus its AWS settings and proxies; the given keys and
 * region, an empty config and credentials file in `home`, one attempt (a server error shows
 * as it is, not after retries), loopback without a proxy.
 */
export function awsCliEnv(home: string, region: string, keys: { id: string; secret: string } = { id: 'test', secret: 'test' }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^AWS_/i.test(k) || /^(https?|all|no)_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  const config = path.join(home, 'config');
  const credentials = path.join(home, 'credentials');
  for (const f of [config, credentials]) if (!fs.existsSync(f)) fs.writeFileSync(f, '');
  return {
    ...env,
    AWS_ACCESS_KEY_ID: keys.id,
    AWS_SECRET_ACCESS_KEY: keys.secret,
    AWS_DEFAULT_REGION: region,
    AWS_PAGER: '',
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: credentials,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '1',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    HOME: home,
  };
}
