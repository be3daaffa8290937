/**
 * Training checkpoints of the glyffuser: one binary file holding everything needed to resume (weights,
 * AdamW moments, EMA weights, step, RNG position, config), written atomically.
 *
 * Format (little-endian):
 *   bytes 0..7    magic "DSGLYCKP"
 *   bytes 8..11   u32 version (1)
 *   bytes 12..15  u32 header length H
 *   bytes 16..    header: UTF-8 JSON {meta, tensors: [{name, group, shape, offset, length}]}
 *   then          payload: Float32 values of every tensor, in header order (offset/length in values)
 *   last 32 bytes SHA-256 of everything before them
 * A file that is short, has another magic, a wrong digest or an inconsistent table is an InputFileError
 * naming the path and the problem.
 *
 * Atomic writes (CKPT-ATOMIC): bytes go to a temporary file in the same folder, are fsync'ed, and the
 * temporary file is renamed over the target (then the folder is fsync'ed). A failure at any point (a full
 * disk, a crash) leaves the previous checkpoint as it was and removes the temporary file.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { InputFileError } from "../reference/errors.ts";

export const CHECKPOINT_MAGIC = "DSGLYCKP";
export const CHECKPOINT_VERSION = 1;

/** A named Float32 tensor of a group ("param", "adam_m", "adam_v", "ema"). */
export interface CheckpointTensor {
  readonly name: string;
  readonly group: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface CheckpointContents<M = Record<string, unknown>> {
  readonly meta: M;
  readonly tensors: readonly CheckpointTensor[];
}

/** The low-level writes an atomic write makes; tests replace `write` to simulate a full disk. */
export interface AtomicWriteIo {
  write(fd: number, data: Uint8Array, offset: number, length: number): number;
}
const NODE_IO: AtomicWriteIo = { write: (fd, data, offset, length) => writeSync(fd, data, offset, length) };

/**
 * CKPT-ATOMIC: writes `data` to `path` so that readers see either the old file or the complete new one.
 * Temporary file `.<name>.tmp-<pid>-<n>` in the same folder (a rename across file systems is not atomic).
 */
export function writeFileAtomic(target: string, data: Uint8Array | string, io: AtomicWriteIo = NODE_IO): void {
  const path = regularFileTarget(target);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${tmpCounter++}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "w");
    let off = 0;
    while (off < bytes.length) {
      const n = io.write(fd, bytes, off, Math.min(bytes.length - off, 1 << 24));
      if (!(n > 0)) throw new Error(`short write (${n} bytes) at offset ${off}`);
      off += n;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw e;
  }
  try {
    const dfd = openSync(dir, "r");
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch {
    // Some file systems cannot fsync a folder; the rename itself is still atomic.
  }
}
let tmpCounter = 0;

/**
 * The path an atomic write renames onto: `path` itself when it does not exist, the file a symbolic link
 * resolves to (the link stays), and never anything but a regular file — renaming over a device such as
 * /dev/null, a FIFO or a folder would replace it (InputFileError instead).
 */
export function regularFileTarget(path: string): string {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return path; // a new file
  }
  const real = st.isSymbolicLink() ? realpathOr(path) : path;
  const kind = real === undefined ? "a dangling symbolic link" : statKind(statSync(real));
  if (kind !== "a regular file") throw new InputFileError(path, `is ${kind}; diffspec writes only regular files (give a file path, or "-" for standard output where the option allows it)`);
  return real!;
}

function realpathOr(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** What a stat describes, in words. */
export function statKind(st: Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a folder";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** Serialises a checkpoint (see the module comment). */
export function encodeCheckpoint(c: CheckpointContents): Uint8Array {
  let offset = 0;
  const table = c.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new InputFileError(`<checkpoint tensor ${t.name}>`, `${t.data.length} values for shape [${t.shape.join(", ")}]`);
    const e = { name: t.name, group: t.group, shape: [...t.shape], offset, length: n };
    offset += n;
    return e;
  });
  const header = new TextEncoder().encode(JSON.stringify({ meta: c.meta, tensors: table }));
  const total = 16 + header.length + 4 * offset + 32;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, header.length, true);
  out.set(header, 16);
  let p = 16 + header.length;
  for (const t of c.tensors) {
    for (let i = 0; i < t.data.length; i++, p += 4) view.setFloat32(p, t.data[i], true);
  }
  out.set(createHash("sha256").update(out.subarray(0, total - 32)).digest(), total - 32);
  return out;
}

/** Parses a checkpoint; InputFileError (with `path`) when it is not a complete, intact checkpoint. */
export function decodeCheckpoint<M = Record<string, unknown>>(bytes: Uint8Array, path = "<checkpoint>"): CheckpointContents<M> {
  const bad = (why: string): never => {
    throw new InputFileError(path, `not a valid glyffuser checkpoint: ${why} (delete it to start over, or resume from another)`);
  };
  if (bytes.length < 48) bad(`${bytes.length} bytes is too short`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== CHECKPOINT_MAGIC) bad(`magic ${JSON.stringify(magic)}, expected ${CHECKPOINT_MAGIC}`);
  const digest = createHash("sha256").update(bytes.subarray(0, bytes.length - 32)).digest();
  if (!Buffer.from(bytes.subarray(bytes.length - 32)).equals(digest)) bad("SHA-256 digest mismatch (truncated or corrupt)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) bad(`version ${version}, this diffspec reads version ${CHECKPOINT_VERSION}`);
  const hlen = view.getUint32(12, true);
  if (16 + hlen + 32 > bytes.length) bad(`header length ${hlen} runs past the end`);
  let header: { meta: M; tensors: { name: string; group: string; shape: number[]; offset: number; length: number }[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  } catch (e) {
    return bad(`header is not JSON (${(e as Error).message})`);
  }
  const base = 16 + hlen;
  const values = (bytes.length - 32 - base) / 4;
  const tensors = header.tensors.map((t) => {
    if (!Number.isInteger(t.offset) || !Number.isInteger(t.length) || t.offset < 0 || t.offset + t.length > values) bad(`tensor ${t.name} lies outside the payload`);
    const data = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) data[i] = view.getFloat32(base + 4 * (t.offset + i), true);
    return { name: t.name, group: t.group, shape: t.shape, data };
  });
  return { meta: header.meta, tensors };
}

/** CKPT-ATOMIC: encodes and writes a checkpoint atomically. */
export function saveCheckpoint(path: string, c: CheckpointContents, io?: AtomicWriteIo): void {
  writeFileAtomic(path, encodeCheckpoint(c), io);
}

/** Reads a checkpoint; InputFileError naming `path` when missing or corrupt. */
export function loadCheckpoint<M = Record<string, unknown>>(path: string): CheckpointContents<M> {
  if (!existsSync(path)) throw new InputFileError(path, "missing: no checkpoint at this path");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new InputFileError(path, `cannot read it: ${(e as Error).message}`);
  }
  return decodeCheckpoint<M>(bytes, path);
}
