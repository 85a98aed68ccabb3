/**
 * Which `expand[]` paths a command's answer can honour, read from its OpenAPI schema: a path
 * segment must be a property that may be an object (an `anyOf` naming a component schema), and
 * the next segment a property of that object. Checked before the command runs: an expand that
 * failed only while rendering the last phase would roll that phase back after money moved.
 */
import { invalidRequest } from '../../errors.ts';
import { COMPONENT_SCHEMAS, type JsonSchema, type SchemaName } from './schemas.ts';

function expansions(prop: JsonSchema): JsonSchema[] {
  const alternatives = Array.isArray(prop.anyOf) ? (prop.anyOf as JsonSchema[]) : [];
  return alternatives.flatMap((a) => (typeof a.$ref === 'string' ? [COMPONENT_SCHEMAS[a.$ref.split('/').pop() as SchemaName]] : []));
}

function canExpand(schema: JsonSchema, [head, ...rest]: string[]): boolean {
  const prop = (schema.properties as Record<string, JsonSchema> | undefined)?.[head];
  const objects = prop ? expansions(prop) : [];
  if (objects.length === 0) return false;
  return rest.length === 0 || objects.some((o) => canExpand(o, rest));
}

/** 400 naming `expand` for the first path none of the answer's schemas can expand. */
export function checkExpand(answers: readonly SchemaName[], paths: readonly string[] | undefined): void {
  for (const path of paths ?? []) {
    if (!answers.some((name) => canExpand(COMPONENT_SCHEMAS[name], path.split('.')))) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, 'expand');
    }
  }
}
