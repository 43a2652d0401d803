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

export type Override = OmitFieldOverride | LinkedListOverride;

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
];
