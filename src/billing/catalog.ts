/** Products and prices (commands). */
import type { Command } from '../idempotency/engine.ts';

export const catalogCommands: Command[] = [];
