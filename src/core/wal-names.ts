/**
 * PostgreSQL's WAL addressing: an LSN ("16/B374D848") is a byte position; segment files are named
 * TTTTTTTTXXXXXXXXYYYYYYYY (timeline, then the segment number split in two at 4 GiB).
 */

const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const FOUR_GIB = 0x1_0000_0000n;

export interface SegmentId {
  timeline: number;
  /** The segment's number: its start LSN divided by the segment size. */
  number: bigint;
}

export function parseLsn(lsn: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!match) throw new Error(`not an LSN: "${lsn}"`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

export function isSegmentName(name: string): boolean {
  return SEGMENT_NAME.test(name);
}

export function parseSegmentName(name: string, segmentSize: number): SegmentId {
  const match = SEGMENT_NAME.exec(name);
  if (!match) throw new Error(`not a WAL segment name: "${name}"`);
  const perFourGiB = FOUR_GIB / BigInt(segmentSize);
  return { timeline: Number.parseInt(match[1]!, 16), number: BigInt(`0x${match[2]}`) * perFourGiB + BigInt(`0x${match[3]}`) };
}

export function segmentName(id: SegmentId, segmentSize: number): string {
  const perFourGiB = FOUR_GIB / BigInt(segmentSize);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(id.timeline)}${hex(id.number / perFourGiB)}${hex(id.number % perFourGiB)}`;
}

/** The segment holding `lsn`. */
export function segmentOfLsn(lsn: bigint, timeline: number, segmentSize: number): SegmentId {
  return { timeline, number: lsn / BigInt(segmentSize) };
}

/** The first LSN after the segment. */
export function segmentEndLsn(id: SegmentId, segmentSize: number): bigint {
  return (id.number + 1n) * BigInt(segmentSize);
}
