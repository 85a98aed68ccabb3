/**
 * The oncepay command (bin/oncepay.js runs this through tsx). Wiring only: each command lives in
 * src/cli/commands/. `serve` is what `npm start` runs (src/cli/commands/serve.ts).
 *
 * Failures print one line on stderr, `oncepay <command>: <what went wrong>`, and exit 1; a wrong
 * command line exits 2.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { addApiOptions, clientFrom, intArg, type ApiOptions } from './api_options.ts';
import { CLI_VERSION } from './api_client.ts';
import { CliError, errorMessage } from './errors.ts';
import { SUPPORTED_EVENTS } from './commands/trigger.ts';
import { OUTCOMES } from './commands/logs.ts';
import { stopWithLauncher } from './parent_watch.ts';

const fullName = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

/** Long-running commands stop on ^C or SIGTERM, and exit 0. */
function stopSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => {
    if (ac.signal.aborted) process.exit(130); // a second ^C: leave now
    ac.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return ac.signal;
}

const CACHE_NOTE = 'Revocation reaches running servers within their key cache time: 30 s (KeyResolver).';

const LOCAL_DB_HELP = `
Works directly on the server's database, found from the same settings as the server:
DATABASE_URL (PostgreSQL), else embedded PGlite in ONCEPAY_DATA_DIR (default ./.oncepay/data).
PGlite cannot be opened by two processes at once: while a server runs on that directory this
command refuses (the server keeps a pid file, oncepay.pid, in it); stop the server first.`;

export function buildProgram(): Command {
  const program = new Command('oncepay')
    .description('Oncepay: a self-hostable, Stripe-compatible payments API where every write happens once.')
    .version(CLI_VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .addHelpText('after', `
Commands that call the API take --api-key (default $ONCEPAY_API_KEY, then $STRIPE_API_KEY) and
--api-base (default $ONCEPAY_API_BASE, else the server's own address: http://$HOST:$PORT, with
HOST 127.0.0.1 (0.0.0.0 and :: reached on loopback) and PORT 4242 as the server defaults them).
Run \`oncepay <command> --help\` for the details of one command.`);

  program.command('serve')
    .description('start the API server (PORT, HOST, DATABASE_URL, ONCEPAY_* settings; see README)')
    .option('--in-memory', 'keep the embedded database in memory only (same as ONCEPAY_DATA_DIR=memory://): nothing is written to disk, everything is gone at stop')
    .addHelpText('after', '\nThe embedded data directory is locked (oncepay.pid) while the server runs.')
    .action(async (opts: { inMemory?: boolean }) => {
      const { serve } = await import('./commands/serve.ts');
      await serve(opts);
    });

  program.command('migrate')
    .description('apply the database migrations and exit, showing each one as it runs')
    .addHelpText('after', LOCAL_DB_HELP)
    .action(async () => {
      const { migrateCommand } = await import('./commands/migrate.ts');
      await migrateCommand();
    });

  const keys = program.command('keys').description('create, list and revoke API keys (directly in the database)')
    .addHelpText('after', `${LOCAL_DB_HELP}\n\n${CACHE_NOTE}`);
  keys.command('create')
    .description('create a secret key: for a new account, or with --account for an existing one; prints the key once')
    .option('--account <acct_id>', 'add the key to this existing account instead of creating a new account')
    .option('--restricted', 'a restricted key (rk_test_...) for --account, allowed what --permission grants')
    .option('--permission <resource=level>', 'with --restricted: none, read or write on a resource, e.g. payment_intents=write (repeat it)',
      (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--publishable', 'another publishable key (pk_test_...) for --account (every account has one: see keys list)')
    .addHelpText('after', `\nThe key goes to stdout, alone on its line (KEY=$(oncepay keys create) works); messages go to stderr.\n${LOCAL_DB_HELP}`)
    .action(async (opts: { account?: string; restricted?: boolean; permission: string[]; publishable?: boolean }) => {
      const { keysCreate } = await import('./commands/keys.ts');
      await keysCreate(opts);
    });
  keys.command('list')
    .description('list every key: account, kind, key hint (sk_test_abcd...wxyz; a publishable key in full), permissions, created, revoked')
    .option('--account <acct_id>', 'only the keys of this account')
    .option('--json', 'one JSON object per line')
    .addHelpText('after', LOCAL_DB_HELP)
    .action(async (opts: { account?: string; json?: boolean }) => {
      const { keysList } = await import('./commands/keys.ts');
      await keysList(opts);
    });
  keys.command('first')
    .description('print again the secret key the first start created and printed (kept in the embedded data directory)')
    .addHelpText('after', `
The first start without ONCEPAY_SECRET_KEY creates a test-mode account and keeps its key in
ONCEPAY_DATA_DIR/first_key.json (mode 0600). This reads that file: it works while the server
runs. On PostgreSQL (DATABASE_URL) and in memory the key is not kept: the command says so.`)
    .action(async () => {
      const { keysFirst } = await import('./commands/keys_first.ts');
      keysFirst();
    });
  keys.command('revoke')
    .description('revoke a key, given in full or by its hint as `keys list` shows it')
    .argument('<key-or-hint>', 'the full key, or its hint (sk_test_abcd...wxyz); a hint matching several active keys is refused')
    .addHelpText('after', `\n${CACHE_NOTE}\nRevoking every key of an account leaves the account unusable; a server started on a\ndatabase without any active key creates a new account and prints its key.\n${LOCAL_DB_HELP}`)
    .action(async (keyOrHint: string) => {
      const { keysRevoke } = await import('./commands/keys.ts');
      await keysRevoke(keyOrHint);
    });

  const logs = program.command('logs').description("read the account's request logs");
  addApiOptions(logs.command('tail')
    .description("print the account's recent request logs, oldest first, then follow new ones (until ^C)")
    .option('--idempotency-key <key>', 'only requests carrying this Idempotency-Key')
    .option('--status <code>', 'only this HTTP status', intArg(100, 599))
    .option('--path <path>', 'only this path, e.g. /v1/payment_intents')
    .option('--method <method>', 'only this method: GET, POST or DELETE', (v: string) => {
      const m = v.toUpperCase();
      if (!['GET', 'POST', 'DELETE'].includes(m)) throw new InvalidArgumentError('expected GET, POST or DELETE');
      return m;
    })
    .addOption(new Option('--outcome <outcome>', 'only this idempotency outcome').choices(OUTCOMES))
    .option('--no-follow', 'print the recent entries and exit')
    .option('--limit <n>', 'how many recent entries to print first', intArg(0, 10_000), 10)
    .option('--json', 'one JSON request_log object per line')
    .addHelpText('after', `
Each line: time (UTC), request id, method and path, status, outcome, idempotency key, duration.
A request still running shows status --- (its line waits up to 15 s for the answer).
Polls GET /v1/request_logs every 500 ms; the CLI's own polling requests are not shown.`))
    .action(async (opts: ApiOptions & { idempotencyKey?: string; status?: number; path?: string; method?: string; outcome?: string; follow: boolean; limit: number; json?: boolean }) => {
      const { logsTail } = await import('./commands/logs.ts');
      const client = clientFrom(opts);
      await logsTail(client, opts, opts.follow ? stopSignal() : undefined);
    });

  const events = program.command('events').description("read the account's events");
  addApiOptions(events.command('list')
    .description('list events, newest first (GET /v1/events)')
    .option('--type <type>', 'only this type; may end with a wildcard, e.g. payment_intent.*')
    .option('--limit <n>', 'how many', intArg(1, 10_000), 10)
    .option('--json', 'one JSON event object per line')
    .addHelpText('after', '\nEach line: time (UTC), event id, type, object id, request id and idempotency key.'))
    .action(async (opts: ApiOptions & { type?: string; limit: number; json?: boolean }) => {
      const { eventsList } = await import('./commands/events.ts');
      await eventsList(clientFrom(opts), opts);
    });

  addApiOptions(program.command('listen')
    .description("forward the account's new events to a local URL, signed like webhooks (like `stripe listen`)")
    .option('--forward-to <url>', 'where to POST each event, e.g. http://localhost:3000/webhooks (http:// may be left out)')
    .option('--events <types>', 'comma-separated event types to forward (wildcards: charge.*); default all', (v: string) => v.split(','))
    .option('--print-secret', 'print the signing secret and exit')
    .addHelpText('after', `
Prints "Ready! Your webhook signing secret is whsec_... (^C to quit)", then polls GET /v1/events
(every 500 ms) for events newer than that moment and POSTs each, oldest first, with the headers
Oncepay's webhooks carry (Stripe-Signature and Standard Webhooks' webhook-*), signed with that
secret: verify them as you would real deliveries. Lines: "--> type [evt_...]" when an event is
sent, "<-- [status] POST url [evt_...]" with the answer. Failed deliveries are reported, not
retried, and listening goes on.

The secret is kept per API address and key in $ONCEPAY_HOME/listen_secrets.json (ONCEPAY_HOME
defaults to ~/.oncepay), so it stays the same from one run to the next.`))
    .action(async (opts: ApiOptions & { forwardTo?: string; events?: string[]; printSecret?: boolean }) => {
      const { listen } = await import('./commands/listen.ts');
      await listen(clientFrom(opts), opts, opts.printSecret ? undefined : stopSignal());
    });

  addApiOptions(program.command('trigger')
    .description('make an event happen: create, through the API, the objects whose changes emit it')
    .argument('<event>', 'the event type, e.g. payment_intent.succeeded')
    .addHelpText('after', `\nSupported events:\n${SUPPORTED_EVENTS.map((e) => `  ${e}`).join('\n')}\n\n` +
      'Each step is printed with the object it made. Every write sends an Idempotency-Key unique to this\n' +
      'run and step: a retried step replays rather than running twice; the next run creates new objects.'))
    .action(async (event: string, opts: ApiOptions) => {
      const { trigger } = await import('./commands/trigger.ts');
      await trigger(clientFrom(opts), event);
    });

  // Usage errors on one line, naming the command, with where to look.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      outputError: (str, write) => {
        const text = str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ');
        write(`${fullName(cmd)}: ${text} (see: ${fullName(cmd)} --help)\n`);
      },
    });
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return 0;
  }
  stopWithLauncher();
  let active = 'oncepay';
  program.hook('preAction', (_this, actionCommand) => { active = fullName(actionCommand); });
  // A closed pipe (`oncepay events list | head -1`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); });
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end here with code 0; usage errors were printed by outputError.
      return err.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`${active}: ${errorMessage(err)}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

const code = await main(process.argv);
// `serve` and the following commands keep running (servers, timers); the others end here.
if (code !== 0) process.exit(code);
