/** API key authentication: `Authorization: Bearer sk_...` or HTTP Basic with the key as user name. */
import { ApiError } from '../errors.ts';

export function extractKey(header: string | undefined): string {
  if (!header) {
    throw unauthorized("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
  }
  const [scheme, value = ''] = header.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme) && value) return value;
  if (/^basic$/i.test(scheme) && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const user = decoded.split(':')[0];
    if (user) return user;
  }
  throw unauthorized('Invalid Authorization header: use Bearer auth with your secret key (Authorization: Bearer sk_test_...) or HTTP Basic with the key as the user name.');
}

export function invalidKey(key: string): ApiError {
  const hint = key.length > 12 ? `${key.slice(0, 8)}****${key.slice(-4)}` : '****';
  return unauthorized(`Invalid API Key provided: ${hint}`);
}

function unauthorized(message: string): ApiError {
  return new ApiError(401, { type: 'invalid_request_error', message }, { 'WWW-Authenticate': 'Bearer realm="Oncepay"' });
}
