// A FIFO with a hard capacity, for work handed to actors. push() refuses instead of growing past
// the capacity so the caller can answer RESOURCE_EXHAUSTED (no unbounded queue fed by the network).

export class BoundedQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity ${capacity} must be >= 1`);
    this.capacity = capacity;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): boolean {
    if (this.length >= this.capacity) return false;
    // An entity actor's queue is empty most of the time and gets one command: an array of exactly
    // one (not an empty one grown to V8's default capacity on the first push).
    if (this.items.length === 0) this.items = [item];
    else this.items.push(item);
    return true;
  }

  /** Removes and returns up to `max` items in FIFO order. */
  take(max: number): T[] {
    // A negative or non-integer max would move the head backwards (or to NaN) and hand out
    // items again: a programmer error, refused before the queue is touched.
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`assertion: take(${max}) needs a non-negative integer`);
    // The common case of an entity actor: everything queued is taken at once; hand the array over.
    if (this.head === 0 && max >= this.items.length) {
      const all = this.items as T[];
      this.items = [];
      return all;
    }
    const end = Math.min(this.items.length, this.head + max);
    const taken = this.items.slice(this.head, end) as T[];
    for (let i = this.head; i < end; i++) this.items[i] = undefined;
    this.head = end;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return taken;
  }
}
