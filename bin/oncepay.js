#!/usr/bin/env node
// Thin launcher: run the TypeScript CLI through tsx so `npx oncepay` works after `npm ci`.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
