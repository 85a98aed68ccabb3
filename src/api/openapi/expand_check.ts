/**
 * Which `expand[]` paths a command's answer can honour: the expansion registry
 * (src/api/expansion.ts) of the object types its response schemas render (their `object`).
 * Checked before the command runs: an expand that failed only while rendering the last phase
 * would roll that phase back after money moved.
 */
import { checkExpandPaths } from '../expansion.ts';
import { COMPONENT_SCHEMAS, type JsonSchema, type SchemaName } from './schemas.ts';

function objectType(name: SchemaName): string | undefined {
  const object = (COMPONENT_SCHEMAS[name].properties as Record<string, JsonSchema> | undefined)?.object;
  return typeof object?.const === 'string' ? object.const : undefined;
}

/** 400 naming `expand` for the first path none of the answer's object types can expand. */
export function checkExpand(answers: readonly SchemaName[], paths: readonly string[] | undefined): void {
  if (!paths?.length) return;
  checkExpandPaths(answers.map(objectType).filter((t): t is string => t !== undefined), paths);
}
