/** Orders: create, update while open, cancel (commands). */
import type { Command } from '../idempotency/engine.ts';

export const orderCommands: Command[] = [];
