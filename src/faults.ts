/**
 * Test-only fault injection. The idempotency engine calls `hit(point)` after every committed
 * phase and after every call to the processor; a configured fault there stops the process the
 * way a crash would, so tests can prove that every point is recoverable.
 *
 * Spec (ONCEPAY_TEST_FAULTS, comma separated): `<mode>:<command>:<after-step>`, mode being
 * `kill` (SIGKILL this process) or `throw` (in-process crash simulation: the request is dropped
 * without releasing its lock, exactly what a dead process leaves behind). `*` matches any command.
 */
export class SimulatedCrash extends Error {
  constructor(readonly point: string) {
    super(`simulated crash at ${point}`);
  }
}

export interface FaultHook {
  hit(command: string, step: string): void;
}

export const noFaults: FaultHook = { hit() {} };

export function parseFaults(spec: string | undefined): FaultHook {
  if (!spec) return noFaults;
  const rules = spec.split(',').map((s) => s.trim()).filter(Boolean).map((rule) => {
    const [mode, command, step, extra] = rule.split(':');
    if ((mode !== 'kill' && mode !== 'throw') || !command || !step || extra !== undefined) {
      throw new Error(`ONCEPAY_TEST_FAULTS: bad rule "${rule}", expected kill|throw:<command>:<step>`);
    }
    return { mode, command, step, used: false };
  });
  return {
    hit(command, step) {
      for (const r of rules) {
        if (r.used || (r.command !== '*' && r.command !== command) || r.step !== step) continue;
        r.used = true; // each rule fires once per process, so the retry after a restart can pass
        if (r.mode === 'kill') process.kill(process.pid, 'SIGKILL');
        throw new SimulatedCrash(`${command}:${step}`);
      }
    },
  };
}

/** A programmable hook for in-process tests. */
export class FaultSwitch implements FaultHook {
  private armed: { command: string; step: string } | undefined;
  arm(command: string, step: string): void {
    this.armed = { command, step };
  }
  hit(command: string, step: string): void {
    const a = this.armed;
    if (a && (a.command === '*' || a.command === command) && a.step === step) {
      this.armed = undefined;
      throw new SimulatedCrash(`${command}:${step}`);
    }
  }
}
