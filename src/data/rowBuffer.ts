/**
 * Rows of numbers collected one at a time, count unknown in advance.
 *
 * Guarantees: rows are stored in blocks of fixed size (about 1 MiB each), never copied
 * while reading; `finish()` copies them once into one Float64Array of exactly
 * count * width values. Peak memory is therefore the data plus one block while reading
 * and twice the data during `finish()` (a doubling array would peak at three times the
 * data when it grows, and could waste half its length at the end).
 */

const BLOCK_BYTES = 1 << 20;

export class RowBuffer {
  private readonly blocks: Float64Array[] = [];
  private readonly rowsPerBlock: number;
  private current: Float64Array;
  private used = 0; // rows in `current`
  count = 0;

  constructor(readonly width: number) {
    this.rowsPerBlock = Math.max(1, Math.floor(BLOCK_BYTES / 8 / Math.max(1, width)));
    this.current = new Float64Array(this.rowsPerBlock * width);
  }

  /** Starts a new row; returns the block to write it into and the row's offset there. */
  next(): { block: Float64Array; at: number } {
    if (this.used === this.rowsPerBlock) {
      this.blocks.push(this.current);
      this.current = new Float64Array(this.rowsPerBlock * this.width);
      this.used = 0;
    }
    const at = this.used * this.width;
    this.used++;
    this.count++;
    return { block: this.current, at };
  }

  /** All rows, in order, in one exact-length array. The buffer is empty afterwards. */
  finish(): Float64Array {
    const out = new Float64Array(this.count * this.width);
    let at = 0;
    for (const b of this.blocks) {
      out.set(b, at);
      at += b.length;
    }
    out.set(this.current.subarray(0, this.used * this.width), at);
    this.blocks.length = 0;
    this.current = new Float64Array(0);
    this.used = 0;
    return out;
  }
}
