import { BackupFormatError, type Frame, frameAt } from './backup-format.ts';

/**
 * The order a backup's frames must come in — H first, then per table T, its D frames and E, tables in the order
 * they were written, M last — checked frame by frame, so that a frame missing, out of place or damaged is refused
 * by its number, its table and the reason, before a COPY is started where none belongs (a T while a table's COPY is
 * still open would wait behind it forever).
 */
export class BackupSequence {
  #table: string | undefined;
  #dataFrames = 0;
  #seen = new Set<string>();
  #last = -1;
  #ended = false;
  #frame: Pick<Frame, 'number' | 'offset'> = { number: 0, offset: 0 };
  #what = '';

  /** `tables`: the tables of the header's modules in the order a backup writes them. */
  constructor(private readonly tables: string[]) {}

  /** The table whose frames are being read, if any. */
  get table(): string | undefined {
    return this.#table;
  }

  /** Where the last frame is, in words: its number, its byte, and what it is of which table. */
  where(): string {
    return `${frameAt(this.#frame.number, this.#frame.offset)}${this.#what}`;
  }

  /** A refusal at the last frame. */
  damaged(reason: string): BackupFormatError {
    return new BackupFormatError(`damaged backup: ${this.where()}: ${reason}`);
  }

  /** Checks that `frame` may come now; `table` is the table a T or E frame names. */
  next(frame: Pick<Frame, 'type' | 'number' | 'offset'>, table = ''): void {
    this.#frame = frame;
    this.#what = {
      H: ', the header',
      T: `, the start of table ${table}`,
      D: this.#table ? `, data frame ${this.#dataFrames + 1} of table ${this.#table}` : ', a data frame',
      E: `, the end of table ${table}`,
      M: ', the manifest',
    }[frame.type];
    if (this.#ended) throw this.damaged(`out of order: a ${frame.type} frame after the manifest, which ends a backup`);
    if ((frame.type === 'H') !== (frame.number === 1)) {
      throw this.damaged(frame.type === 'H' ? 'out of order: a second header' : 'missing: the backup does not start with its header');
    }
    if (frame.type === 'T') this.#start(table);
    else if (frame.type === 'D') {
      if (!this.#table) throw this.damaged("out of order: a data frame outside any table (its table's start frame is missing, or it is misplaced)");
      this.#dataFrames += 1;
    } else if (frame.type === 'E') {
      if (!this.#table) throw this.damaged(`out of order: the end of table ${table} without its start`);
      if (table !== this.#table) throw this.damaged(`out of order: the end of table ${table} inside table ${this.#table}`);
    } else if (frame.type === 'M') {
      if (this.#table) throw this.damaged(`missing: table ${this.#table} has no end frame before the manifest`);
      this.#ended = true;
    }
  }

  /** After the E frame's checks passed: the table is done. */
  endTable(): void {
    this.#table = undefined;
    this.#dataFrames = 0;
  }

  /** How many data frames the open table has had. */
  get dataFrames(): number {
    return this.#dataFrames;
  }

  /** At the end of the file: refuses one that ends before its manifest. */
  finish(position: Pick<Frame, 'number' | 'offset'>): void {
    if (this.#ended) return;
    this.#frame = position;
    this.#what = '';
    const inTable = this.#table ? ` inside table ${this.#table}, after its data frame ${this.#dataFrames}` : '';
    throw new BackupFormatError(`truncated backup: the file ends at ${frameAt(position.number, position.offset)}${inTable}, before the manifest`);
  }

  #start(table: string): void {
    if (this.#table) throw this.damaged(`missing: table ${this.#table} has no end frame, and this frame starts table ${table}`);
    const at = this.tables.indexOf(table);
    if (at < 0) throw this.damaged(`unknown table ${JSON.stringify(table)} for the backup's modules`);
    if (this.#seen.has(table) || at < this.#last) throw this.damaged(`out of order: table ${table} comes after a table written after it`);
    this.#seen.add(table);
    this.#last = at;
    this.#table = table;
    this.#dataFrames = 0;
  }
}
