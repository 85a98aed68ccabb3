import { defineConfig } from 'vitest/config';

// Starting a server takes a few seconds: more than vitest's default hook timeout on a busy machine.
export default defineConfig({ test: { hookTimeout: 60_000, testTimeout: 30_000 } });
