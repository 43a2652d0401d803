/** The start-up summary a person at a terminal reads: where things are and what to type. */
import type { LocalEfs } from '../index.js';
import { isWildcard } from '../util/cidr.js';

/** What the summary shows: the running server's facts and the version. */
export type SummaryInput = Pick<LocalEfs, 'fileSystemId' | 'dataDir' | 'ephemeral' | 'nfsHost' | 'nfsPort' | 'apiEndpoint' | 'caFile' | 'region'> & { version: string };

export function startupSummary(s: SummaryInput): string {
  // a wildcard is where we listen, not an address a client can use: loopback reaches it
  const host = isWildcard(s.nfsHost) ? '127.0.0.1' : s.nfsHost;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const port = s.nfsPort === 2049 ? '' : `,port=${s.nfsPort}`;
  const lines = [
    `localefs ${s.version} ready`,
    `  file system  ${s.fileSystemId}  (region ${s.region})`,
    `  data         ${s.dataDir}${s.ephemeral ? '  (ephemeral: removed at exit)' : ''}`,
    `  NFS          ${s.nfsHost}:${s.nfsPort}  (NFSv4.1 and 4.0, plain and TLS)`,
  ];
  if (s.apiEndpoint) {
    const https = s.apiEndpoint.replace(/^http:/, 'https:');
    lines.push(`  EFS API      ${s.apiEndpoint}  (and ${https})`);
    lines.push(`  health       ${s.apiEndpoint}/_localefs/health`);
  }
  lines.push(`  CA           ${s.caFile}`);
  lines.push('');
  lines.push('  mount it (Linux NFS client):');
  lines.push(`    sudo mount -t nfs4 -o nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport${port} ${hostInUrl}:/ /mnt/efs`);
  if (s.apiEndpoint) {
    lines.push('  call the API:');
    const reachable = s.apiEndpoint.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
    lines.push(`    aws efs describe-file-systems --endpoint-url ${reachable} --region ${s.region}`);
  }
  return lines.join('\n') + '\n';
}
