/**
 * EFS API errors as AWS sends them (spec efs-behaviour.md §1.7): the code in
 * the `x-amzn-ErrorType` header (what the SDKs dispatch on) and in the body's
 * `ErrorCode`, the text in `Message`, plus the id members some errors model.
 */

/** HTTP status of each error code the API answers with. */
export const ERROR_STATUS = {
  BadRequest: 400,
  ValidationException: 400,
  InvalidPolicyException: 400,
  ThroughputLimitExceeded: 400,
  UnsupportedAvailabilityZone: 400,
  AvailabilityZonesMismatch: 400,
  SubnetNotFound: 400,
  SecurityGroupNotFound: 400,
  SecurityGroupLimitExceeded: 400,
  AccessDeniedException: 403,
  AccessPointLimitExceeded: 403,
  FileSystemLimitExceeded: 403,
  MissingAuthenticationToken: 403,
  IncompleteSignatureException: 403,
  InvalidSignatureException: 403,
  SignatureDoesNotMatch: 403,
  UnrecognizedClientException: 403,
  FileSystemNotFound: 404,
  AccessPointNotFound: 404,
  MountTargetNotFound: 404,
  PolicyNotFound: 404,
  ReplicationNotFound: 404,
  UnknownOperationException: 404,
  FileSystemAlreadyExists: 409,
  AccessPointAlreadyExists: 409,
  FileSystemInUse: 409,
  IncorrectFileSystemLifeCycleState: 409,
  IncorrectMountTargetState: 409,
  MountTargetConflict: 409,
  IpAddressInUse: 409,
  NoFreeAddressesInSubnet: 409,
  NetworkInterfaceLimitExceeded: 409,
  ReplicationAlreadyExists: 409,
  RequestEntityTooLarge: 413,
  ThrottlingException: 429,
  TooManyRequests: 429,
  InternalServerError: 500,
  DependencyTimeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** CloudTrail's errorCode where it differs from the API's error code. */
export const AUDIT_ERROR_CODE: Partial<Record<ErrorCode, string>> = { AccessDeniedException: 'AccessDenied' };

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra body members, e.g. FileSystemId on FileSystemAlreadyExists. */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
  }
}

export const badRequest = (message: string): ApiError => new ApiError('BadRequest', message);
export const fileSystemNotFound = (id: string): ApiError => new ApiError('FileSystemNotFound', `File system '${id}' does not exist.`);
export const accessPointNotFound = (id: string): ApiError => new ApiError('AccessPointNotFound', `Access point '${id}' does not exist.`);
export const mountTargetNotFound = (id: string): ApiError => new ApiError('MountTargetNotFound', `Mount target '${id}' does not exist.`);
