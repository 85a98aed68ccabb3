/**
 * The process log (pino, JSON lines on stdout). Request lines carry no bodies; error messages
 * and stacks can echo input, so they pass through the same redaction as request logs.
 */
import pino, { type Logger } from 'pino';
import { redact } from './redact.ts';

function redactedError(err: unknown): unknown {
  try {
    return redact(pino.stdSerializers.err(err as Error));
  } catch {
    return { type: 'Error', message: '(error could not be serialized)' };
  }
}

export function processLogger(level: string): Logger {
  return pino({ level, serializers: { err: redactedError } });
}
