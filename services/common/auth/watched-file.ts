// A file whose content is read once at start (so a missing or unreadable file fails the process at
// once, with its path) and then polled: when its bytes change, the listeners get the new content.
// Certificates, CA bundles, revocation lists, token signing keys (JWKS) and bearer tokens are all
// rotated by rewriting their files (a Kubernetes Secret update swaps a symlink under the mount), so
// polling the content is what notices every kind of rewrite; inotify misses symlink swaps.
//
// A poll that fails (the file is mid-rewrite, or briefly absent) keeps the last good content and
// tries again next period: rotation never leaves a door without credentials.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../process';

export class WatchedFile {
  private content: Buffer;
  private readonly listeners = new Set<(content: Buffer) => void>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    readonly path: string,
    private readonly poll_ms: number,
  ) {
    try {
      this.content = readFileSync(path);
    } catch (error) {
      throw new ConfigError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The content as last read successfully. */
  get current(): Buffer {
    return this.content;
  }

  /** Calls `listener` on every change from now on; the poll runs while anyone listens. */
  onChange(listener: (content: Buffer) => void): () => void {
    this.listeners.add(listener);
    if (this.timer === undefined && this.poll_ms > 0) {
      this.timer = setInterval(() => void this.poll(), this.poll_ms);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the file now; listeners hear of a change. Resolves false when it could not be read. */
  async poll(): Promise<boolean> {
    if (this.polling) return true;
    this.polling = true;
    try {
      const next = await readFile(this.path);
      if (!next.equals(this.content)) {
        this.content = next;
        for (const listener of this.listeners) listener(next);
      }
      return true;
    } catch {
      return false;
    } finally {
      this.polling = false;
    }
  }
}
