/**
 * DeleteFileSystem and crashes: the data goes only once model.json says the
 * file system is gone. The states a crash can leave (mark written but the
 * deletion not saved; deletion saved but the data not yet moved) are made by
 * hand here, then the server starts on them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateFileSystemCommand, DeleteFileSystemCommand, DescribeFileSystemsCommand } from '@aws-sdk/client-efs';
import { efsClient, startApiServer, token, type ApiTestServer } from './api-helpers.js';
import { parseConfig } from '../../src/model/config.js';

let ts: ApiTestServer | undefined;
afterAll(async () => {
  await ts?.cleanup();
});

describe('deleting a file system across a crash', () => {
  it('removes marked data the saved model no longer names, keeps the rest', async () => {
    const logLines: string[] = [];
    ts = await startApiServer({ logLines });
    let efs = efsClient(ts);
    const ids: string[] = [];
    for (const name of ['saved-deletion', 'unsaved-deletion', 'unknown-data']) {
      ids.push((await efs.send(new CreateFileSystemCommand({ CreationToken: token(name) }))).FileSystemId!);
    }
    efs.destroy();
    const [savedDeletion, unsavedDeletion, unknownData] = ids as [string, string, string];
    const dirOf = (id: string) => path.join(ts!.dataDir, 'file-systems', id);
    for (const id of ids) writeFileSync(path.join(dirOf(id), 'fs-marker-file'), id);
    await ts.stop();

    // crash after saving the deletion of the first, and before saving that of the second
    writeFileSync(path.join(dirOf(savedDeletion), '.deleting'), 'x');
    writeFileSync(path.join(dirOf(unsavedDeletion), '.deleting'), 'x');
    // and a file system model.json does not know, without the mark
    const modelFile = path.join(ts.dataDir, 'model.json');
    const model = JSON.parse(readFileSync(modelFile, 'utf8')) as { fileSystems: { fileSystemId: string }[] };
    model.fileSystems = model.fileSystems.filter((f) => f.fileSystemId !== savedDeletion && f.fileSystemId !== unknownData);
    writeFileSync(modelFile, JSON.stringify(model));

    await ts.restart();
    efs = efsClient(ts);
    const listed = (await efs.send(new DescribeFileSystemsCommand({}))).FileSystems!.map((f) => f.FileSystemId);
    efs.destroy();
    expect(listed).toContain(unsavedDeletion);
    expect(listed).not.toContain(savedDeletion);
    expect(existsSync(dirOf(savedDeletion))).toBe(false);
    expect(readFileSync(path.join(dirOf(unsavedDeletion), 'fs-marker-file'), 'utf8')).toBe(unsavedDeletion);
    expect(existsSync(path.join(dirOf(unsavedDeletion), '.deleting'))).toBe(false);
    expect(readFileSync(path.join(dirOf(unknownData), 'fs-marker-file'), 'utf8')).toBe(unknownData);
    expect(logLines.some((l) => l.includes('model.json does not know') && l.includes(unknownData))).toBe(true);
  });
});

describe('deleting a file system the config declared', () => {
  it('works before anything ever mounted it (its data directory does not exist yet)', async () => {
    const declared = 'fs-0123456789abcdef1';
    const server = await startApiServer({ config: await parseConfig({ fileSystems: [{ fileSystemId: declared }] }, '(test)') });
    try {
      const efs = efsClient(server);
      const dir = path.join(server.dataDir, 'file-systems', declared);
      expect(existsSync(dir)).toBe(false);
      await efs.send(new DeleteFileSystemCommand({ FileSystemId: declared }));
      const listed = (await efs.send(new DescribeFileSystemsCommand({}))).FileSystems!.map((f) => f.FileSystemId);
      expect(listed).not.toContain(declared);
      efs.destroy();
    } finally {
      await server.cleanup();
    }
  });
});
