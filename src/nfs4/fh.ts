import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * File handle layout (32 bytes), derived only from durable facts so handles
 * survive restarts:
 *   0      version (1)
 *   1..3   reserved (0)
 *   4..7   export index (0 = the file system root; access points later)
 *   8..15  inode number (u64)
 *   16..19 generation (u32)
 *   20..31 MAC: HMAC-SHA256(secret, bytes 0..19) truncated to 12 bytes
 * The MAC makes handles unforgeable: a client cannot name an inode it was never given.
 */
export const FH_VERSION = 1;
export const FH_LENGTH = 32;
const MAC_AT = 20;

export interface DecodedFh {
  exportIndex: number;
  ino: number;
  gen: number;
}

export class FhCodec {
  constructor(private readonly secret: Buffer) {}

  encode(ino: number, gen: number, exportIndex = 0): Buffer {
    const fh = Buffer.alloc(FH_LENGTH);
    fh[0] = FH_VERSION;
    fh.writeUInt32BE(exportIndex >>> 0, 4);
    fh.writeUInt32BE(Math.floor(ino / 4294967296), 8);
    fh.writeUInt32BE(ino >>> 0, 12);
    fh.writeUInt32BE(gen >>> 0, 16);
    this.mac(fh).copy(fh, MAC_AT, 0, FH_LENGTH - MAC_AT);
    return fh;
  }

  /** Returns undefined for a handle we did not make (wrong length, version or MAC): NFS4ERR_BADHANDLE. */
  decode(fh: Buffer): DecodedFh | undefined {
    if (fh.length !== FH_LENGTH || fh[0] !== FH_VERSION) return undefined;
    const expected = this.mac(fh).subarray(0, FH_LENGTH - MAC_AT);
    if (!timingSafeEqual(expected, fh.subarray(MAC_AT))) return undefined;
    return {
      exportIndex: fh.readUInt32BE(4),
      ino: fh.readUInt32BE(8) * 4294967296 + fh.readUInt32BE(12),
      gen: fh.readUInt32BE(16),
    };
  }

  private mac(fh: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(fh.subarray(0, MAC_AT)).digest();
  }
}
