import type { JsonSchema } from './api.js';

export type FieldKind = 'image' | 'file' | 'files' | 'text' | 'longtext' | 'number' | 'integer' | 'boolean' | 'choice' | 'json';

/** One form field, generated from a property of the handler's input JSON Schema. */
export interface FieldSpec {
  name: string;
  kind: FieldKind;
  label: string;
  required: boolean;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  /** For `choice`: the allowed values. */
  options?: unknown[];
  schema: JsonSchema;
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (typeof schema.type === 'string') return [schema.type];
  return [];
}

/** `const`/`enum` alternatives (z.enum, z.union of literals) as a list of values, if that is what the schema is. */
function choicesOf(schema: JsonSchema): unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined && alternatives.length > 0 && alternatives.every((a) => 'const' in a)) return alternatives.map((a) => a.const);
  return undefined;
}

export function humanize(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function kindOf(schema: JsonSchema): FieldKind {
  const file = schema['x-slipway-file'];
  if (file !== undefined) return file === 'image' ? 'image' : 'file';
  if (schema.items !== undefined && schema.items !== false && schema.items['x-slipway-file'] !== undefined) return 'files';
  if (choicesOf(schema) !== undefined) return 'choice';
  const types = typesOf(schema).filter((t) => t !== 'null');
  if (types.length === 1) {
    switch (types[0]) {
      case 'string':
        return schema.maxLength !== undefined && schema.maxLength <= 200 ? 'text' : 'longtext';
      case 'integer':
        return 'integer';
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
    }
  }
  return 'json';
}

/** The fields of an object schema, required ones first, in the schema's order otherwise. */
export function fieldsOf(schema: JsonSchema | undefined): FieldSpec[] {
  const properties = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const fields = Object.entries(properties).map(([name, property]): FieldSpec => {
    const field: FieldSpec = { name, kind: kindOf(property), label: humanize(name), required: required.has(name) && property.default === undefined, schema: property };
    if (property.description !== undefined) field.description = property.description;
    if (property.default !== undefined) field.default = property.default;
    if (property.minimum !== undefined && Math.abs(property.minimum) < Number.MAX_SAFE_INTEGER) field.minimum = property.minimum;
    if (property.maximum !== undefined && Math.abs(property.maximum) < Number.MAX_SAFE_INTEGER) field.maximum = property.maximum;
    const options = choicesOf(property);
    if (options !== undefined) field.options = options;
    return field;
  });
  return [...fields.filter((f) => f.required), ...fields.filter((f) => !f.required)];
}

export const isFileKind = (kind: FieldKind): boolean => kind === 'image' || kind === 'file' || kind === 'files';
