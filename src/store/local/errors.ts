import { StoreError, type StoreErrorCode } from '../types.js';

const PASS: ReadonlySet<string> = new Set<StoreErrorCode>([
  'ENOENT',
  'EEXIST',
  'ENOTDIR',
  'EISDIR',
  'ENOTEMPTY',
  'EINVAL',
  'ESTALE',
  'ENAMETOOLONG',
  'EMLINK',
  'EFBIG',
  'ENOSPC',
  'EXDEV',
  'EACCES',
  'EPERM',
  'ELOOP',
  'EIO',
  'EBADF',
  'EDQUOT',
  'ENOTSUP',
]);

const MAP: Record<string, StoreErrorCode> = {
  EOPNOTSUPP: 'ENOTSUP',
  ENOSYS: 'ENOTSUP',
  ENXIO: 'EINVAL',
  EROFS: 'EACCES',
  EBUSY: 'EIO',
  ETXTBSY: 'EACCES',
  EOVERFLOW: 'EFBIG',
  EMFILE: 'EIO',
  ENFILE: 'EIO',
  ENOMEM: 'EIO',
  EAGAIN: 'EIO',
};

/** Node errno code -> StoreErrorCode. */
export function storeCode(code: string | undefined): StoreErrorCode {
  if (code === undefined) return 'EIO';
  if (PASS.has(code)) return code as StoreErrorCode;
  return MAP[code] ?? 'EIO';
}

/**
 * Translates any thrown value into a StoreError. The message names the
 * operation and the errno only: never the host path.
 */
export function toStoreError(err: unknown, op: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const sc = storeCode(code);
  return new StoreError(sc, `${op}: ${code ?? (err instanceof Error ? err.name : 'error')}`);
}

export function fail(code: StoreErrorCode, msg?: string): never {
  throw new StoreError(code, msg ?? code);
}

export function errnoOf(err: unknown): string | undefined {
  if (err instanceof StoreError) return err.code;
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
