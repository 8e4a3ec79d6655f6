/**
 * Command-line options every benchmark shares: where, how long, how often.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CommonOptions {
  /** `--dir`: base directory for benchmark files (see chooseBenchBase). */
  dir: string | undefined;
  /** `--reps`: repetitions of each case; the report shows their median. */
  reps: number;
  /** `--seconds`: measured time of one case in one repetition. */
  seconds: number;
  /** `--warmup`: unmeasured time before each measured run, seconds. */
  warmup: number;
  /** `--quick`: a smoke run (fewer cases, shorter runs, one repetition). */
  quick: boolean;
  /** `--only`: run only cases whose id matches this regular expression. */
  only: RegExp | undefined;
  /** `--keep`: leave the benchmark files in place. */
  keep: boolean;
  help: boolean;
}

export const COMMON_OPTIONS = {
  dir: { type: 'string' },
  reps: { type: 'string' },
  seconds: { type: 'string' },
  warmup: { type: 'string' },
  quick: { type: 'boolean' },
  only: { type: 'string' },
  keep: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const COMMON_HELP = `  --dir <path>      where the benchmark files go (default $CLFS_BENCH_DIR, else os.tmpdir(),
                    else /var/tmp when os.tmpdir() is tmpfs); must be on the disk to measure
  --reps <n>        repetitions per case; the report shows the median (default 3)
  --seconds <s>     measured seconds per case per repetition
  --warmup <s>      unmeasured seconds before each measured run
  --quick           smoke run: few cases, short runs, one repetition
  --only <regex>    only the cases whose id matches
  --keep            keep the benchmark files
  -h, --help        this text`;

/** A bad command-line argument: its own class, so a Node API's ERR_INVALID_ARG_VALUE mid-run is not taken for one. */
class ArgumentError extends Error {
  readonly code = 'ERR_INVALID_ARG_VALUE';
}

/** A bad command-line argument (reported in one line, exit code 64). */
export function argumentError(message: string): Error {
  return new ArgumentError(message);
}

/** Whether `error` is a bad argument (util.parseArgs's, or argumentError's). */
export function isArgumentError(error: unknown): error is Error & { code: string } {
  if (error instanceof ArgumentError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

function positive(name: string, text: string | undefined, fallback: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw argumentError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${text}'`);
  }
  return n;
}

/**
 * Parses `argv` with the common options plus `extra`. Defaults differ in
 * quick mode: `quickDefaults` apply when `--quick` is given.
 */
export function parseOptions<E extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  extra: E,
  defaults: { reps: number; seconds: number; warmup: number },
  quickDefaults: { reps: number; seconds: number; warmup: number },
): { common: CommonOptions; values: Record<string, string | boolean | undefined> } {
  const { values } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...extra }, strict: true });
  const v = values as Record<string, string | boolean | undefined>;
  const quick = v.quick === true;
  const d = quick ? quickDefaults : defaults;
  const only = typeof v.only === 'string' ? new RegExp(v.only) : undefined;
  return {
    common: {
      dir: typeof v.dir === 'string' ? v.dir : undefined,
      reps: positive('reps', v.reps as string | undefined, d.reps, true),
      seconds: positive('seconds', v.seconds as string | undefined, d.seconds, false),
      warmup: v.warmup === '0' ? 0 : positive('warmup', v.warmup as string | undefined, d.warmup, false),
      quick,
      only,
      keep: v.keep === true,
      help: v.help === true,
    },
    values: v,
  };
}
