/**
 * The EC2 query API on the EFS API's endpoint (`POST /` with a form body, or
 * `GET /?Action=...`), so `aws ec2 --endpoint-url` and @aws-sdk/client-ec2
 * reach the security group calls: reads a bounded body, checks the SigV4
 * signature (service `ec2`), authorizes `ec2:<Action>` from the caller's
 * identity policies, runs the operation, answers in EC2's XML, and writes one
 * CloudTrail-shaped audit record per call (eventSource ec2.amazonaws.com).
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Credential } from '../../model/types.js';
import { ApiError } from '../errors.js';
import type { Caller, ControlPlane } from '../control-plane.js';
import { BodyTooLarge, MAX_BODY_BYTES, auditRecord, authenticate, readBody } from '../request-common.js';
import { accessDeniedMessage, authorizeApiCall } from '../../policy/api-authz.js';
import { Ec2Error } from './errors.js';
import { Ec2Input, FormNode, parseForm } from './query.js';
import { xmlError, xmlResponse, type XmlValue } from './xml.js';
import { EC2_OPERATIONS, type Ec2Operation } from './security-groups.js';

/** The signing name of EC2 requests. */
export const EC2_SIGV4_SERVICE = 'ec2';

/** EC2 requests go to the endpoint's root; the EFS API lives under /2015-02-01/. */
export const isEc2Path = (rawPath: string): boolean => rawPath === '/' || rawPath === '';

/** The EFS signature errors (src/api/sigv4.ts) as EC2 names them; all HTTP 403. */
function authError(err: ApiError): Ec2Error {
  switch (err.code) {
    case 'MissingAuthenticationToken':
      return new Ec2Error('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
    case 'IncompleteSignatureException':
      return new Ec2Error('IncompleteSignature', err.message, 403);
    case 'InvalidSignatureException':
      return new Ec2Error(/^Signature expired/.test(err.message) ? 'RequestExpired' : 'AuthFailure', err.message, 403);
    case 'UnrecognizedClientException':
      return new Ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials', 403);
    default:
      return new Ec2Error(err.code, err.message, 403);
  }
}

export interface Ec2HandlerOptions {
  cp: ControlPlane;
  /** Known access keys (as for the EFS API): empty = any well-formed signature, caller = the account root. */
  credentials: Map<string, Credential>;
  log: Logger;
}

export type Ec2Handler = (req: http.IncomingMessage, res: http.ServerResponse, requestId?: string) => Promise<void>;

export function createEc2Handler(o: Ec2HandlerOptions): Ec2Handler {
  const { cp } = o;
  const audit = o.log.child({ part: 'audit' });
  // with credentials, IAM decides every call; without, every caller is the account root
  const enforce = o.credentials.size > 0;
  const ops = new Map(EC2_OPERATIONS.map((op) => [op.action, op]));

  /** IAM: ec2:<Action> on the group's ARN (or `*`), from the caller's identity policies; UnauthorizedOperation otherwise. */
  function authorize(rcp: ControlPlane, op: Ec2Operation, input: Ec2Input, caller: Caller, cred: Credential | undefined, sourceIp: string, secureTransport: boolean): void {
    const action = `ec2:${op.action}`;
    const resourceArn = op.resource(rcp, input);
    const d = authorizeApiCall({
      enforce,
      callerArn: caller.arn,
      callerAccountId: caller.accountId,
      accountId: cp.model.accountId,
      ...(cred?.identityPolicies ? { identityPolicies: cred.identityPolicies } : {}),
      action,
      resourceArn,
      sourceIp,
      secureTransport,
      nowMs: Date.now(),
    });
    if (d.allowed) return;
    const reason = d.reason === 'explicit-deny' ? 'explicit-deny' : 'implicit-deny';
    throw new Ec2Error('UnauthorizedOperation', `You are not authorized to perform this operation. ${accessDeniedMessage(caller.arn, action, resourceArn, reason)}`, 403);
  }

  return async function handleEc2(req, res, requestId = randomUUID()) {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const method = req.method ?? 'GET';
    const sourceIp = req.socket.remoteAddress ?? '';
    let caller: Caller | undefined;
    let region = cp.model.region;
    let accessKeyId: string | undefined;
    let params: FormNode | undefined;
    let op: Ec2Operation | undefined;
    let action: string | undefined;
    let result: Record<string, XmlValue> | undefined;
    let error: Ec2Error | undefined;
    try {
      let raw: Buffer;
      try {
        raw = await readBody(req, MAX_BODY_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLarge) throw new Ec2Error('RequestEntityTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`, 413);
        throw err;
      }
      let cred: Credential | undefined;
      try {
        const auth = authenticate({ method, rawUrl, headers: req.headers, body: raw }, o.credentials, cp.model.accountId, EC2_SIGV4_SERVICE);
        accessKeyId = auth.info.accessKeyId;
        region = auth.info.region;
        cred = auth.credential;
        caller = auth.caller;
      } catch (err) {
        if (err instanceof ApiError) throw authError(err);
        throw err;
      }
      if (method !== 'GET' && method !== 'POST') throw new Ec2Error('InvalidAction', `EC2 API requests are GET or POST to /, not ${method}.`);
      params = parseForm(q < 0 ? '' : rawUrl.slice(q + 1));
      if (method === 'POST' && raw.length > 0) parseForm(raw.toString('utf8'), params);
      const input = new Ec2Input(params);
      action = input.string('Action');
      if (action === undefined || action === '') throw new Ec2Error('MissingAction', 'The request must contain the parameter Action');
      op = ops.get(action);
      if (!op) throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
      // the region the request is signed for: its VPC and groups (its default group made on first use)
      const rcp = cp.inRegion(region);
      authorize(rcp, op, input, caller, cred, sourceIp, (req.socket as TLSSocket).encrypted === true);
      if (input.bool('DryRun') === true) throw new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
      await rcp.ensureDefaultSecurityGroup();
      result = await op.handler(rcp, input);
    } catch (err) {
      if (err instanceof Ec2Error) error = err;
      else {
        o.log.error({ err, action }, 'internal error in an EC2 operation');
        error = new Ec2Error('InternalError', 'An internal error has occurred. The server log has details.', 500);
      }
    }
    const payload = error ? xmlError(error.code, error.message, requestId) : xmlResponse(op!.action, requestId, result!);
    const status = error ? error.status : 200;
    const headers: Record<string, string> = {
      'x-amzn-RequestId': requestId,
      'Content-Type': 'text/xml;charset=UTF-8',
      'Content-Length': String(Buffer.byteLength(payload)),
    };
    if (error?.code === 'RequestEntityTooLarge') headers.Connection = 'close';
    res.writeHead(status, headers);
    res.end(payload);
    audit.info(
      auditRecord({
        caller,
        accessKeyId,
        eventSource: 'ec2.amazonaws.com',
        eventName: op?.action ?? action ?? 'Unknown',
        region,
        sourceIp,
        userAgent: req.headers['user-agent'] ?? '',
        requestParameters: requestParameters(params),
        responseElements: error ? null : { requestId, ...result },
        // CloudTrail prefixes EC2's codes with who was at fault
        ...(error ? { error: { code: `${error.status >= 500 ? 'Server' : 'Client'}.${error.code}`, message: error.message } } : {}),
        requestId,
        readOnly: op?.readOnly ?? true,
        accountId: cp.model.accountId,
        httpStatus: status,
      }),
      'api call',
    );
  };
}

/** The request's parameters for the audit record (not Action and Version), lists as arrays. */
function requestParameters(params: FormNode | undefined): Record<string, unknown> | null {
  if (!params) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of params.children) {
    if (k === 'Action' || k === 'Version') continue;
    out[k.charAt(0).toLowerCase() + k.slice(1)] = v.toJSON();
  }
  return Object.keys(out).length > 0 ? out : null;
}
