/**
 * Raised by the XDR reader for input that cannot be decoded: truncation,
 * lengths above a declared bound, bad padding, invalid booleans or unions.
 * The RPC layer answers GARBAGE_ARGS; inside a COMPOUND it becomes NFS4ERR_BADXDR.
 */
export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdrError';
  }
}
