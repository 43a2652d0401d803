/**
 * The (deliberately short) list of places where the generated TypeScript
 * shape differs from a literal reading of the .x file. Each entry is
 * wire-identical to the .x; only the in-memory shape and the codec strategy
 * change.
 *
 *  1. entry4.nextentry is dropped from the TS shape: entries are not chained
 *     objects, they live in dirlist4.entries[] (see 2).
 *  2. dirlist4.entries (declared `entry4 *entries`, the head of an XDR linked
 *     list) becomes `entries: entry4[]` and is encoded/decoded with a loop:
 *     before each element a bool TRUE, after the last a bool FALSE. A
 *     recursive decoder would overflow the stack on a 10,000-entry READDIR.
 *  3. nfs_cookie4 and changeid4 (uint64_t typedefs) are `bigint`, not
 *     `number`, wherever they are used (READDIR4args.cookie, entry4.cookie,
 *     change_info4.before/after, fattr4_change): the protocol treats them as
 *     opaque tokens, so every one of the 64 bits must survive. Other 64-bit
 *     integers (sizes, offsets, counts, fileids) stay numbers.
 */

export interface OmitFieldOverride {
  kind: 'omitField';
  type: string;
  field: string;
  why: string;
}

export interface LinkedListOverride {
  kind: 'linkedList';
  /** struct holding the list head */
  type: string;
  /** the `T *field` member that heads the list */
  field: string;
  /** element struct; its own link member must be dropped with an omitField override */
  elem: string;
  why: string;
}

/**
 * A `uint64_t` typedef carried as a JS `bigint` (exact) instead of a `number`
 * (rounded above 2^53): its type alias becomes `bigint` and every use site,
 * through aliases of it too, is coded with r.u64big() / w.u64big(). For
 * values the receiver never computes with, only stores, compares and sends
 * back. The generator refuses it on anything but a scalar uint64_t typedef.
 */
export interface BigIntOverride {
  kind: 'bigint';
  /** the typedef (of uint64_t) */
  type: string;
  why: string;
}

export type Override = OmitFieldOverride | LinkedListOverride | BigIntOverride;

export const OVERRIDES: Override[] = [
  {
    kind: 'omitField',
    type: 'entry4',
    field: 'nextentry',
    why: 'READDIR entries are flattened into dirlist4.entries[]; the link is implied by the list encoding',
  },
  {
    kind: 'linkedList',
    type: 'dirlist4',
    field: 'entries',
    elem: 'entry4',
    why: 'iterative codec for the XDR linked list so large directories cannot overflow the stack',
  },
  {
    kind: 'bigint',
    type: 'nfs_cookie4',
    why:
      'READDIR cookies are opaque to the client and other servers (nfs-ganesha) and hostile clients use all 64 bits; ' +
      'as a number a cookie above 2^53 rounds, and paging would resume somewhere else',
  },
  {
    kind: 'bigint',
    type: 'changeid4',
    why:
      'change ids (change_info4.before/after, the change attribute) are only compared for equality; ' +
      'as numbers, two different values above 2^53 can round to the same one and hide a change',
  },
];
