/** Options shared by the commands that talk to a running server: --api-key and --api-base. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ApiClient } from './api_client.ts';
import { CliError } from './errors.ts';

export interface ApiOptions {
  apiKey?: string;
  apiBase?: string;
}

/**
 * The API address when --api-base is not given: ONCEPAY_API_BASE, else where `oncepay serve`
 * listens with the same HOST and PORT (a wildcard address is reached on loopback).
 */
export function defaultApiBase(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ONCEPAY_API_BASE) return env.ONCEPAY_API_BASE;
  const host = !env.HOST || env.HOST === '0.0.0.0' ? '127.0.0.1' : env.HOST === '::' ? '::1' : env.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${env.PORT || '4242'}`;
}

export function parseApiBase(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`expected a URL such as http://127.0.0.1:4242, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`expected an http:// or https:// URL, got "${value}"`);
  return value.replace(/\/+$/, '');
}

export function addApiOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--api-key <key>', 'secret key to use (default: $ONCEPAY_API_KEY, then $STRIPE_API_KEY; prefer the variables: options show in `ps`)'))
    .addOption(new Option('--api-base <url>', 'address of the Oncepay API (default: $ONCEPAY_API_BASE, else http://$HOST:$PORT as the server listens, 127.0.0.1:4242 by default)')
      .argParser(parseApiBase));
}

/** A client from the command's options and the environment; a clear error when no key is known. */
export function clientFrom(opts: ApiOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const apiKey = opts.apiKey || env.ONCEPAY_API_KEY || env.STRIPE_API_KEY;
  if (!apiKey) {
    throw new CliError('no API key: pass --api-key sk_test_... or set ONCEPAY_API_KEY (STRIPE_API_KEY works too); `oncepay keys create` makes one');
  }
  let apiBase = opts.apiBase;
  if (!apiBase) {
    try {
      apiBase = parseApiBase(defaultApiBase(env));
    } catch (err) {
      throw new CliError(`ONCEPAY_API_BASE: ${(err as Error).message}`);
    }
  }
  return new ApiClient({ apiBase, apiKey });
}

/** Parses a whole number option within bounds (commander argParser). */
export function intArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}
