/**
 * A store in S3-compatible object storage (AWS S3, MinIO, Ceph, R2, …) through the AWS SDK v3:
 * `s3://bucket/prefix`. Credentials and region come from the SDK's usual chain (AWS_ACCESS_KEY_ID, profiles, …);
 * another endpoint from `?endpoint=http://host:9000` or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (path-style addressing
 * is used with an explicit endpoint, as MinIO needs). A PutObject is atomic: readers see the old object or the new.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { tempPathFor } from '../data/atomic-write.js';
import type { Store } from './store.js';

export class S3Store implements Store {
  readonly display: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;

  constructor(url: string) {
    const u = new URL(url);
    if (!u.hostname) throw new Error(`--store: an S3 URL needs a bucket: s3://BUCKET/prefix, got '${url}'`);
    this.bucket = u.hostname;
    const p = u.pathname.replace(/^\/+|\/+$/g, '');
    this.prefix = p === '' ? '' : `${p}/`;
    const endpoint = u.searchParams.get('endpoint') ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? undefined;
    this.client = new S3Client({
      region: u.searchParams.get('region') ?? process.env.AWS_REGION ?? 'us-east-1',
      // Checksums only where S3 requires them: streamed uploads then stay plain PUTs, which every S3-compatible
      // store accepts (the checkpoint format carries its own checksums).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    });
    this.display = `s3://${this.bucket}/${this.prefix}${endpoint ? ` at ${endpoint}` : ''}`;
  }

  private key(k: string): string {
    return this.prefix + k;
  }

  async putBytes(key: string, data: Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: data, ContentLength: data.byteLength }));
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const { size } = await stat(localPath);
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: createReadStream(localPath), ContentLength: size }));
  }

  private async body(key: string): Promise<Readable | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return r.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async getBytes(key: string): Promise<Buffer | null> {
    const body = await this.body(key);
    if (!body) return null;
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
    return Buffer.concat(chunks);
  }

  async getFile(key: string, localPath: string): Promise<boolean> {
    const body = await this.body(key);
    if (!body) return false;
    await mkdir(dirname(localPath), { recursive: true });
    const tmp = tempPathFor(localPath);
    try {
      await pipeline(body, createWriteStream(tmp));
      await rename(tmp, localPath);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return true;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a key that is not there too.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key.slice(this.prefix.length));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}
