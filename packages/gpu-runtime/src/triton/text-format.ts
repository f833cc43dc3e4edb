/**
 * A small, strict reader of protobuf text format (what Triton's `config.pbtxt` is), checked against
 * a schema: unknown fields, a scalar where a message belongs, a repeated non-repeated field, an enum
 * value that does not exist or an int that is not an integer are errors naming line and column.
 * Enough of the grammar for model configurations: `#` comments, `field: value`, `field { ... }` /
 * `field: < ... >`, `field: [ a, b ]` lists, adjacent string concatenation, `,`/`;` separators.
 */
import { FuselabError } from '@fuselab/graph-core';

export class TextFormatError extends FuselabError {
  readonly line: number;
  readonly column: number;
  constructor(file: string, line: number, column: number, reason: string) {
    super('TEXT_FORMAT', `${file}:${line}:${column}: ${reason}`);
    this.line = line;
    this.column = column;
  }
}

export type FieldSpec =
  | { kind: 'int32' | 'int64' | 'uint64' | 'float' | 'bool' | 'string'; repeated?: boolean }
  | { kind: 'enum'; values: readonly string[]; repeated?: boolean }
  | { kind: 'message'; message: MessageSchema | (() => MessageSchema); repeated?: boolean };

export interface MessageSchema {
  name: string;
  fields: Readonly<Record<string, FieldSpec>>;
}

export type TextValue = number | string | boolean | TextMessage;
/** A parsed message: repeated fields are arrays, others single values; absent fields are absent. */
export interface TextMessage {
  [field: string]: TextValue | TextValue[];
}

type Tok = { t: 'id' | 'str' | 'num' | 'punct' | 'eof'; v: string; line: number; col: number };

function tokenize(text: string, file: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const err = (why: string): never => {
    throw new TextFormatError(file, line, i - lineStart + 1, why);
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
      lineStart = i;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ('{}[]<>:,;'.includes(c)) {
      toks.push({ t: 'punct', v: c, line, col: i - lineStart + 1 });
      i++;
    } else if (c === '"' || c === "'") {
      const col = i - lineStart + 1;
      let out = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') err('unterminated string');
        const d = text[i];
        if (d === c) break;
        if (d === '\\') {
          const e = text[i + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', "'": "'", '\\': '\\' };
          if (e in simple) {
            out += simple[e];
            i += 2;
          } else if (/[0-7]/.test(e)) {
            const m = /^[0-7]{1,3}/.exec(text.slice(i + 1)) as RegExpExecArray;
            out += String.fromCharCode(parseInt(m[0], 8));
            i += 1 + m[0].length;
          } else if (e === 'x') {
            const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2));
            if (!m) err('bad \\x escape');
            out += String.fromCharCode(parseInt((m as RegExpExecArray)[0], 16));
            i += 2 + (m as RegExpExecArray)[0].length;
          } else {
            err(`unknown escape '\\${e}'`);
          }
        } else {
          out += d;
          i++;
        }
      }
      i++;
      toks.push({ t: 'str', v: out, line, col });
    } else if (/[-+0-9.]/.test(c)) {
      const m = /^[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?[fF]?|inf|nan)/.exec(text.slice(i));
      if (!m) err(`unexpected '${c}'`);
      toks.push({ t: 'num', v: (m as RegExpExecArray)[0], line, col: i - lineStart + 1 });
      i += (m as RegExpExecArray)[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i)) as RegExpExecArray;
      toks.push({ t: 'id', v: m[0], line, col: i - lineStart + 1 });
      i += m[0].length;
    } else {
      err(`unexpected character '${c}'`);
    }
  }
  toks.push({ t: 'eof', v: '', line, col: i - lineStart + 1 });
  return toks;
}

/** Parses `text` as a message of `schema`. `file` names the source in errors. */
export function parseTextFormat(text: string, schema: MessageSchema, file = '<text>'): TextMessage {
  const toks = tokenize(text, file);
  let p = 0;
  const peek = () => toks[p];
  const err = (tok: Tok, why: string): never => {
    throw new TextFormatError(file, tok.line, tok.col, why);
  };
  const expect = (v: string) => {
    const tok = toks[p++];
    if (tok.t !== 'punct' || tok.v !== v) err(tok, `expected '${v}', got ${tok.t === 'eof' ? 'end of input' : `'${tok.v}'`}`);
  };
  const resolve = (s: MessageSchema | (() => MessageSchema)) => (typeof s === 'function' ? s() : s);

  const scalar = (spec: FieldSpec, field: string, path: string): TextValue => {
    const tok = toks[p++];
    switch (spec.kind) {
      case 'string': {
        if (tok.t !== 'str') err(tok, `${path}: expected a string for '${field}'`);
        let s = tok.v;
        while (peek().t === 'str') s += toks[p++].v;
        return s;
      }
      case 'int32': case 'int64': case 'uint64': {
        if (tok.t !== 'num' || !/^[-+]?\d+$/.test(tok.v)) err(tok, `${path}: '${field}' must be an integer, got '${tok.v}'`);
        const n = Number(tok.v);
        if (spec.kind === 'uint64' && n < 0) err(tok, `${path}: '${field}' must not be negative`);
        if (spec.kind === 'int32' && (n < -(2 ** 31) || n >= 2 ** 31)) err(tok, `${path}: '${field}' is out of int32 range`);
        return n;
      }
      case 'float': {
        if (tok.t !== 'num' && !(tok.t === 'id' && /^(inf|nan|infinity)$/i.test(tok.v))) err(tok, `${path}: '${field}' must be a number, got '${tok.v}'`);
        return Number(tok.v.replace(/[fF]$/, '').replace(/^inf/i, 'Infinity'));
      }
      case 'bool': {
        const ok: Record<string, boolean> = { true: true, false: false, True: true, False: false, t: true, f: false, 1: true, 0: false };
        if ((tok.t !== 'id' && tok.t !== 'num') || !(tok.v in ok)) err(tok, `${path}: '${field}' must be true or false, got '${tok.v}'`);
        return ok[tok.v];
      }
      case 'enum': {
        if (tok.t !== 'id' || !spec.values.includes(tok.v)) err(tok, `${path}: '${field}' must be one of ${spec.values.join(', ')}, got '${tok.v}'`);
        return tok.v;
      }
      default:
        return err(tok, `${path}: '${field}' is a message`);
    }
  };

  const message = (schema: MessageSchema, close: string | null, path: string): TextMessage => {
    const out: TextMessage = {};
    const where = path || schema.name;
    for (;;) {
      const tok = peek();
      if (close === null ? tok.t === 'eof' : tok.t === 'punct' && tok.v === close) {
        p++;
        return out;
      }
      if (tok.t === 'eof') err(tok, `${where}: missing '${close}'`);
      if (tok.t !== 'id') err(tok, `${where}: expected a field name, got '${tok.v}'`);
      p++;
      const field = tok.v;
      const spec = schema.fields[field];
      if (!spec) err(tok, `${where}: unknown field '${field}' in ${schema.name}`);
      const fpath = path ? `${path}.${field}` : field;
      const values: TextValue[] = [];
      const one = (): TextValue => {
        if (spec.kind === 'message') {
          const open = toks[p++];
          if (open.t !== 'punct' || (open.v !== '{' && open.v !== '<')) err(open, `${fpath}: expected '{' for message ${resolve(spec.message).name}`);
          return message(resolve(spec.message), open.v === '{' ? '}' : '>', fpath);
        }
        return scalar(spec, field, path || schema.name);
      };
      const hasColon = peek().t === 'punct' && peek().v === ':';
      if (hasColon) p++;
      else if (spec.kind !== 'message') err(peek(), `${fpath}: expected ':' after scalar field '${field}'`);
      if (peek().t === 'punct' && peek().v === '[') {
        if (!spec.repeated) err(peek(), `${fpath}: '${field}' is not repeated; a list is not allowed`);
        p++;
        if (!(peek().t === 'punct' && peek().v === ']')) {
          for (;;) {
            values.push(one());
            if (peek().t === 'punct' && peek().v === ',') {
              p++;
              continue;
            }
            break;
          }
        }
        expect(']');
      } else {
        values.push(one());
      }
      if (peek().t === 'punct' && (peek().v === ',' || peek().v === ';')) p++;
      if (spec.repeated) {
        const prev = (out[field] as TextValue[] | undefined) ?? [];
        out[field] = [...prev, ...values];
      } else {
        if (field in out) err(tok, `${fpath}: '${field}' is set twice (it is not repeated)`);
        out[field] = values[0];
      }
    }
  };
  return message(schema, null, '');
}

/** Escapes a string for a text-format literal (double-quoted; non-ASCII stays as UTF-8, which protobuf's parser accepts). */
export function quoteText(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
