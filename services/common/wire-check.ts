// Strict protobuf wire-format checking of requests, before the generated code decodes them.
//
// Why: the generated decoders are lenient. They stop at a zero tag or a stray end-group tag and
// return what they read so far, skip a known field sent with the wrong wire type as if it were
// absent, and accept any bytes in a string. So bytes that are not a message could pass as a
// different, shorter one: a gateway frame "00 <item>" decoded as an empty frame and the stream
// ended OK with no answer for its item. Every request a server receives is checked here first
// against its message type from the compiled proto files; bytes that fail are not a request, and
// the server answers INVALID_ARGUMENT (services/authorizer/grpc/strict-server.ts).
//
// What "well-formed" means here: every tag is a varint of at most 5 bytes naming a field number
// >= 1 and a wire type proto3 writes (varint, 64-bit, length-delimited, 32-bit; groups and the
// unused types are refused); every value lies inside its message; a known field has its type's
// wire type (a repeated number may also be packed, and then holds whole numbers only); a string
// is UTF-8; an embedded message is itself well-formed, to a depth of 100; unknown fields are
// allowed (a newer peer's fields during a rolling update) but must be well-formed too.
//
// Cost: one pass over the bytes with no allocation but the tables built once at start.

import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScalarType, createFileRegistry, fromBinary, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

const wire_varint = 0;
const wire_fixed64 = 1;
const wire_delimited = 2;
const wire_fixed32 = 5;

/** Embedded messages nested deeper than this are refused (the generated decoders stop at 100 too). */
export const message_depth_max = 100;

/** A varint holds at most 64 bits: 10 bytes. */
const varint_bytes_max = 10;
/** A tag or a length is a 32-bit varint: 5 bytes. */
const varint32_bytes_max = 5;

interface FieldRule {
  readonly wire: number;
  /** A repeated number: packed (length-delimited) is accepted too, holding numbers of `wire`. */
  readonly packable: boolean;
  readonly utf8: boolean;
  /** The rule of an embedded message (or map entry), filled in after every message is compiled. */
  message: MessageRule | undefined;
}

type MessageRule = ReadonlyMap<number, FieldRule>;

function wireOfScalar(scalar: ScalarType): number {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return wire_fixed64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return wire_fixed32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return wire_delimited;
    default:
      return wire_varint;
  }
}

function scalarRule(scalar: ScalarType, repeated: boolean): FieldRule {
  const wire = wireOfScalar(scalar);
  return { wire, packable: repeated && wire !== wire_delimited, utf8: scalar === ScalarType.STRING, message: undefined };
}

const enum_rule: FieldRule = { wire: wire_varint, packable: false, utf8: false, message: undefined };
const repeated_enum_rule: FieldRule = { wire: wire_varint, packable: true, utf8: false, message: undefined };

/** Compiles message types into rules; embedded types are linked by name once all are compiled. */
class RuleCompiler {
  private readonly rules = new Map<string, Map<number, FieldRule>>();
  private readonly links: { rule: FieldRule; typeName: string }[] = [];

  ruleOf(message: DescMessage): MessageRule {
    const existing = this.rules.get(message.typeName);
    if (existing !== undefined) return existing;
    const fields = new Map<number, FieldRule>();
    this.rules.set(message.typeName, fields);
    for (const field of message.fields) fields.set(field.number, this.fieldRule(field));
    return fields;
  }

  /** Resolves the embedded-message links (compiling types reached only through them). */
  link(): void {
    for (let index = 0; index < this.links.length; index++) {
      const { rule, typeName } = this.links[index] as { rule: FieldRule; typeName: string };
      rule.message = this.rules.get(typeName);
    }
  }

  private embedded(message: DescMessage): FieldRule {
    const rule: FieldRule = { wire: wire_delimited, packable: false, utf8: false, message: undefined };
    this.ruleOf(message);
    this.links.push({ rule, typeName: message.typeName });
    return rule;
  }

  private fieldRule(field: DescField): FieldRule {
    switch (field.fieldKind) {
      case 'scalar':
        return scalarRule(field.scalar, false);
      case 'enum':
        return enum_rule;
      case 'message':
        return this.embedded(field.message);
      case 'list':
        if (field.listKind === 'scalar') return scalarRule(field.scalar, true);
        if (field.listKind === 'enum') return repeated_enum_rule;
        return this.embedded(field.message);
      case 'map': {
        const value =
          field.mapKind === 'scalar'
            ? scalarRule(field.scalar, false)
            : field.mapKind === 'enum'
              ? enum_rule
              : this.embedded(field.message);
        const entry: FieldRule = { wire: wire_delimited, packable: false, utf8: false, message: undefined };
        entry.message = new Map([
          [1, scalarRule(field.mapKey, false)],
          [2, value],
        ]);
        return entry;
      }
    }
  }
}

/** Reads a varint of at most `bytes_max` bytes at `pos`; the position after it, or -1 if malformed. */
function skipVarint(bytes: Uint8Array, pos: number, end: number, bytes_max: number): number {
  const last = Math.min(end, pos + bytes_max);
  for (let at = pos; at < last; at++) if (((bytes[at] as number) & 0x80) === 0) return at + 1;
  return -1;
}

/** The value of a 32-bit varint ending before `next` (already checked by skipVarint). */
function varint32Value(bytes: Uint8Array, pos: number, next: number): number {
  let value = 0;
  let scale = 1;
  for (let at = pos; at < next; at++) {
    value += ((bytes[at] as number) & 0x7f) * scale;
    scale *= 128;
  }
  return value;
}

const field_number_max = 2 ** 29 - 1;

/** Checks a packed repeated number's payload: whole numbers of the field's wire type, nothing else. */
function packedProblem(bytes: Uint8Array, pos: number, end: number, wire: number): string | undefined {
  if (wire === wire_fixed32) return (end - pos) % 4 === 0 ? undefined : 'packed 32-bit values are not a multiple of 4 bytes';
  if (wire === wire_fixed64) return (end - pos) % 8 === 0 ? undefined : 'packed 64-bit values are not a multiple of 8 bytes';
  for (let at = pos; at < end;) {
    at = skipVarint(bytes, at, end, varint_bytes_max);
    if (at < 0) return 'a packed varint runs past its field';
  }
  return undefined;
}

/** The problem of a length-delimited value of a known field, or undefined. */
function delimitedProblem(bytes: Uint8Array, pos: number, end: number, rule: FieldRule, depth: number): string | undefined {
  if (rule.message !== undefined) return messageProblem(bytes, pos, end, rule.message, depth + 1);
  if (rule.utf8) return isUtf8(bytes.subarray(pos, end)) ? undefined : 'a string is not UTF-8';
  if (rule.packable) return packedProblem(bytes, pos, end, rule.wire);
  return undefined;
}

/** Where the value of a field with this wire type ends, or -1 when it does not fit. */
function valueEnd(bytes: Uint8Array, pos: number, end: number, wire: number): number {
  switch (wire) {
    case wire_varint:
      return skipVarint(bytes, pos, end, varint_bytes_max);
    case wire_fixed64:
      return pos + 8 <= end ? pos + 8 : -1;
    case wire_fixed32:
      return pos + 4 <= end ? pos + 4 : -1;
    default: {
      const at = skipVarint(bytes, pos, end, varint32_bytes_max);
      if (at < 0) return -1;
      const length = varint32Value(bytes, pos, at);
      return at + length <= end ? at + length : -1;
    }
  }
}

function messageProblem(bytes: Uint8Array, start: number, end: number, rule: MessageRule | undefined, depth: number): string | undefined {
  if (depth > message_depth_max) return `messages nested deeper than ${message_depth_max}`;
  let pos = start;
  while (pos < end) {
    const afterTag = skipVarint(bytes, pos, end, varint32_bytes_max);
    if (afterTag < 0) return 'a tag is cut short or longer than 5 bytes';
    const tag = varint32Value(bytes, pos, afterTag);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field < 1 || field > field_number_max) return `field number ${field} is out of range`;
    if (wire !== wire_varint && wire !== wire_fixed64 && wire !== wire_delimited && wire !== wire_fixed32)
      return `field ${field} has wire type ${wire}, which proto3 does not use`;
    const next = valueEnd(bytes, afterTag, end, wire);
    if (next < 0) return `field ${field} runs past the end of its message`;
    const known = rule?.get(field);
    if (known !== undefined) {
      if (wire !== known.wire && !(known.packable && wire === wire_delimited))
        return `field ${field} has wire type ${wire}, its type needs ${known.wire}`;
      if (wire === wire_delimited) {
        const contentStart = skipVarint(bytes, afterTag, end, varint32_bytes_max);
        const problem = delimitedProblem(bytes, contentStart, next, known, depth);
        if (problem !== undefined) return `field ${field}: ${problem}`;
      }
    }
    pos = next;
  }
  return undefined;
}

let shared_schemas: WireSchemas | undefined;

/** The wire rules of every method's request type, from a compiled FileDescriptorSet. */
export class WireSchemas {
  private readonly byPath = new Map<string, { readonly typeName: string; readonly rule: MessageRule }>();

  private constructor(set: Uint8Array) {
    const compiler = new RuleCompiler();
    for (const type of createFileRegistry(fromBinary(FileDescriptorSetSchema, set))) {
      if (type.kind !== 'service') continue;
      for (const method of type.methods)
        this.byPath.set(`/${type.typeName}/${method.name}`, { typeName: method.input.typeName, rule: compiler.ruleOf(method.input) });
    }
    compiler.link();
  }

  /** Where the build puts the set with every file (scripts/build-descriptors.js), relative to dist/services/common. */
  static defaultPath(): string {
    return join(__dirname, '..', '..', 'proto', 'wire-schemas.binpb');
  }

  static load(path = WireSchemas.defaultPath()): WireSchemas {
    return new WireSchemas(readFileSync(path));
  }

  /** The set this build was compiled with, loaded once per process (every server of a node shares it). */
  static shared(): WireSchemas {
    shared_schemas ??= WireSchemas.load();
    return shared_schemas;
  }

  /** The request type of a method ("/package.Service/Method"), or undefined when it is not in the set. */
  requestTypeOf(path: string): string | undefined {
    return this.byPath.get(path)?.typeName;
  }

  /**
   * What makes `bytes` not a well-formed request of the method, or undefined when they are one.
   * A method missing from the set is checked without a type: structure only.
   */
  requestProblem(path: string, bytes: Uint8Array): string | undefined {
    return messageProblem(bytes, 0, bytes.length, this.byPath.get(path)?.rule, 1);
  }
}
