import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { chmod, open, rename, unlink } from 'node:fs/promises';

/**
 * Replace `file` with `data` so that a crash at any point leaves either the old
 * or the new content, never a mix: write a temporary file beside it, fsync it,
 * rename it over the old one, fsync the directory (so the rename itself is durable).
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await chmod(tmp, mode); // the umask may have taken bits off
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
