/**
 * Tokenizer for the RFC 4506 XDR language subset used by xdr/*.x.
 * Skips C comments, // comments and %-passthrough lines (RFC 5531 rpcgen style).
 */

export type TokenKind = 'ident' | 'number' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  line: number;
}

const PUNCT = new Set(['{', '}', '(', ')', '[', ']', '<', '>', ';', ':', ',', '=', '*']);

export class LexError extends Error {}

export function tokenize(src: string, file = '<input>'): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let atLineStart = true;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
      atLineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (c === '%' && atLineStart) {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    atLineStart = false;
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new LexError(`${file}:${line}: unterminated comment`);
      for (let j = i; j < end; j++) if (src[j] === '\n') line++;
      i = end + 2;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      out.push({ kind: 'ident', text: src.slice(i, j), line });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let j = i + 1;
      if (c === '0' && (src[j] === 'x' || src[j] === 'X')) {
        j++;
        while (j < n && /[0-9A-Fa-f]/.test(src[j]!)) j++;
      } else {
        while (j < n && /[0-9]/.test(src[j]!)) j++;
      }
      out.push({ kind: 'number', text: src.slice(i, j), line });
      i = j;
      continue;
    }
    if (PUNCT.has(c)) {
      out.push({ kind: 'punct', text: c, line });
      i++;
      continue;
    }
    throw new LexError(`${file}:${line}: unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ kind: 'eof', text: '', line });
  return out;
}

/** Parse an XDR integer literal (decimal, hex, octal with leading 0, optional '-') exactly. */
export function parseNumber(text: string): bigint {
  let neg = false;
  let t = text;
  if (t.startsWith('-')) {
    neg = true;
    t = t.slice(1);
  }
  let v: bigint;
  if (/^0[xX]/.test(t)) v = BigInt(t);
  else if (t.length > 1 && t.startsWith('0')) v = BigInt('0o' + t.slice(1));
  else v = BigInt(t);
  return neg ? -v : v;
}
