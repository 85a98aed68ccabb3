/**
 * The process log (pino, JSON lines on stdout). Request lines carry no bodies; error messages
 * and stacks can echo input, so they pass through the same redaction as request logs.
 */
import pino, { type Logger } from 'pino';
import { redactString } from './redact.ts';

function redactedError(err: unknown): unknown {
  const plain = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  return JSON.parse(redactString(JSON.stringify(plain)));
}

export function processLogger(level: string): Logger {
  return pino({ level, serializers: { err: redactedError } });
}
