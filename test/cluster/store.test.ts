/**
 * The store contract, on both kinds: a shared directory, and S3 through the AWS SDK against a small in-process fake
 * S3 endpoint (path-style PUT/GET/HEAD/DELETE/ListObjectsV2 over HTTP — not a real S3: it checks our use of the SDK, not
 * S3's semantics). Also: store URLs are validated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, checkWritable, type Store } from '../../src/cluster/store.js';
import { tempDir } from './harness.js';

async function contract(store: Store): Promise<void> {
  const dir = tempDir('hydra-store-');
  await checkWritable(store, 'test');
  assert.deepEqual(await store.list('probe/'), [], 'the writability probe removes its object');
  assert.equal(await store.getBytes('jobs/a/missing.json'), null);
  assert.equal(await store.exists('jobs/a/missing.json'), false);
  await store.putBytes('jobs/a/x.json', Buffer.from('{"x":1}'));
  assert.equal((await store.getBytes('jobs/a/x.json'))?.toString(), '{"x":1}');
  const big = Buffer.alloc(300_000, 7);
  writeFileSync(join(dir, 'in.bin'), big);
  await store.putFile('jobs/a/models/m/ckpt-000000002.ckpt', join(dir, 'in.bin'));
  assert.ok(await store.getFile('jobs/a/models/m/ckpt-000000002.ckpt', join(dir, 'out.bin')));
  assert.ok(readFileSync(join(dir, 'out.bin')).equals(big));
  assert.equal(await store.getFile('jobs/a/nope', join(dir, 'nope.bin')), false);
  assert.ok(await store.exists('jobs/a/x.json'));
  assert.deepEqual(await store.list('jobs/a/'), ['jobs/a/models/m/ckpt-000000002.ckpt', 'jobs/a/x.json']);
  assert.deepEqual(await store.list('jobs/a/models/m/ckpt-'), ['jobs/a/models/m/ckpt-000000002.ckpt']);
  await store.delete('jobs/a/x.json');
  await store.delete('jobs/a/x.json'); // gone already: not an error
  assert.equal(await store.exists('jobs/a/x.json'), false);
  assert.deepEqual(await store.list('jobs/a/'), ['jobs/a/models/m/ckpt-000000002.ckpt']);
}

test('directory store: atomic puts, reads, listing', async () => {
  await contract(await openStore(tempDir('hydra-dirstore-')));
});

test('checkWritable: a store whose writes do not read back is refused, and the probe it wrote is removed', async () => {
  const store = await openStore(tempDir('hydra-dirstore-'));
  const lying: Store = Object.assign(Object.create(store) as Store, { getBytes: async () => Buffer.from('something else') });
  await assert.rejects(checkWritable(lying, 'test'), /is not writable by test: what was written did not read back/);
  assert.deepEqual(await store.list('probe/'), [], 'no probe object left behind');
});

/** A fake S3 endpoint: objects in a Map, path-style addressing, no authentication checks. */
function fakeS3(): Promise<{ server: Server; url: string }> {
  const objects = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const [, bucket, ...rest] = u.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const id = `${bucket}/${key}`;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        objects.set(id, Buffer.concat(chunks));
        res.writeHead(200, { ETag: '"e"' }).end();
      } else if (req.method === 'GET' && key === '' && u.searchParams.get('list-type') === '2') {
        const prefix = u.searchParams.get('prefix') ?? '';
        const keys = [...objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).map((k) => k.slice(bucket.length + 1)).sort();
        const body = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyCount>${keys.length}</KeyCount><IsTruncated>false</IsTruncated>${keys.map((k) => `<Contents><Key>${k}</Key><Size>${objects.get(`${bucket}/${k}`)!.length}</Size></Contents>`).join('')}</ListBucketResult>`;
        res.writeHead(200, { 'Content-Type': 'application/xml' }).end(body);
      } else if (req.method === 'DELETE') {
        objects.delete(id);
        res.writeHead(204).end();
      } else if (req.method === 'GET' || req.method === 'HEAD') {
        const o = objects.get(id);
        if (!o) {
          res.writeHead(404, { 'Content-Type': 'application/xml' }).end(req.method === 'HEAD' ? undefined : '<Error><Code>NoSuchKey</Code><Message>no</Message></Error>');
        } else {
          res.writeHead(200, { 'Content-Length': o.length, 'Content-Type': 'application/octet-stream' }).end(req.method === 'HEAD' ? undefined : o);
        }
      } else {
        res.writeHead(405).end();
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

test('S3 store (AWS SDK v3) against an in-process fake S3 endpoint', async () => {
  const { server, url } = await fakeS3();
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  try {
    const store = await openStore(`s3://bucket/some/prefix?endpoint=${encodeURIComponent(url)}`);
    assert.match(store.display, /^s3:\/\/bucket\/some\/prefix\/ at http:\/\/127\.0\.0\.1:\d+$/);
    await contract(store);
  } finally {
    server.close();
  }
});

test('store URLs: an unknown scheme is named', async () => {
  await assert.rejects(openStore('ftp://host/x'), /--store: expected a directory, file:\/\/ or s3:\/\/ URL, got 'ftp:\/\/host\/x'/);
  await assert.rejects(openStore(''), /--store: expected a directory or an s3:\/\/bucket\/prefix URL/);
});
