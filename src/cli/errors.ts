/** Errors the CLI reports as one line on stderr, with an exit code. */

/** A failure to report as is (no stack trace): `oncepay <command>: <message>`. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line itself is wrong (exit code 2, like commander's usage errors). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** The message to print for any error: ours as is, others with their message only. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Node's network error codes in words. */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string; name?: string };
  const code = e?.cause?.code ?? e?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'host not found';
    case 'ECONNRESET': case 'UND_ERR_SOCKET': return 'connection reset';
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': return 'connection timed out';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'host unreachable';
    case 'UND_ERR_HEADERS_TIMEOUT': case 'UND_ERR_BODY_TIMEOUT': return 'no answer in time';
    case 'EPROTO': case 'ERR_SSL_WRONG_VERSION_NUMBER': return 'TLS handshake failed (http vs https?)';
    default:
      if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
      return e?.cause?.message ?? e?.message ?? String(err);
  }
}
