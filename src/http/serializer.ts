import fastJson from 'fast-json-stringify';
import { z } from 'zod';
import { zodToJsonConfig } from './schemas.ts';

type JsonSchema = { [key: string]: unknown };
type Serializer = (data: unknown) => string;

const stringify: Serializer = (data) => JSON.stringify(data);
const JSON_VALUE_REF = '#/$defs/JsonValue';

/**
 * Responses written by code generated from their schema (fast-json-stringify, what Fastify itself uses for JSON
 * Schema routes): a page of 50 messages costs about half of JSON.stringify's time, and that page is the hot read
 * of every turn. It writes exactly what JSON.stringify would for data of the schema's shape (a test compares
 * them); free-form JSON columns (metadata, rag_context) are handed to JSON.stringify by the generated code. A
 * schema it cannot express without unions falls back to JSON.stringify.
 */
export function responseSerializer(schema: unknown): Serializer {
  if (!(schema instanceof z.ZodType)) return stringify;
  const document = z.toJSONSchema(schema, { io: 'output', ...zodToJsonConfig }) as JsonSchema;
  const generated = simplify(document, (document.$defs ?? {}) as Record<string, JsonSchema>);
  if (!generated) return stringify;
  return fastJson(generated as unknown as Parameters<typeof fastJson>[0]) as Serializer;
}

/**
 * The generated schema in the subset fast-json-stringify serialises by type alone: JSON values become "any",
 * `X | null` a type list. Anything else that needs a union (where the generated code would validate each value to
 * choose a branch) gives undefined.
 */
function simplify(node: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema | undefined {
  if (node.$ref === JSON_VALUE_REF) return {};
  // Named shapes (User, Message…: components of the document) are written inline.
  const named = typeof node.$ref === 'string' && node.$ref.startsWith('#/$defs/') ? defs[node.$ref.slice('#/$defs/'.length)] : undefined;
  if (named) return simplify(named, defs);
  if (Array.isArray(node.anyOf)) {
    const [value, nullable, ...rest] = node.anyOf as JsonSchema[];
    if (rest.length || !value || nullable?.type !== 'null') return undefined;
    const inner = simplify(value, defs);
    if (!inner) return undefined;
    if (Object.keys(inner).length === 0) return {};
    return typeof inner.type === 'string' ? { ...inner, type: [inner.type, 'null'] } : undefined;
  }
  if ('$ref' in node || 'oneOf' in node || 'allOf' in node) return undefined;
  const { $defs: _defs, $schema: _schema, $id: _id, id: _name, pattern: _pattern, properties, items, ...rest } = node;
  const result: JsonSchema = { ...rest };
  if (properties) {
    const simplified: JsonSchema = {};
    for (const [name, property] of Object.entries(properties as Record<string, JsonSchema>)) {
      const inner = simplify(property, defs);
      if (!inner) return undefined;
      simplified[name] = inner;
    }
    result.properties = simplified;
  }
  if (items) {
    const inner = simplify(items as JsonSchema, defs);
    if (!inner) return undefined;
    result.items = inner;
  }
  return result;
}
