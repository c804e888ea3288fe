import { type AlertOutput, chooseFormat, parseFormat, parseLevel, useColor } from './format.ts';

/** `--format` and `--min-level`, shared by `serve` and `replay`. */
export interface OutputFlags {
  format?: string;
  minLevel?: string;
}

export const FORMAT_OPTION = '--format <format>';
export const FORMAT_HELP =
  'json (JSON lines) or text (one line per alert); default: text on a terminal, else json';

/** The alert output the flags ask for; on a bad value, says why on stderr and returns undefined. */
export function outputOrReport(command: string, flags: OutputFlags, isTTY: boolean): AlertOutput | undefined {
  try {
    const format = chooseFormat(flags.format === undefined ? undefined : parseFormat(flags.format), isTTY);
    return {
      format,
      minLevel: parseLevel(flags.minLevel ?? 'informational'),
      color: format === 'text' && useColor(isTTY, process.env),
    };
  } catch (err) {
    process.stderr.write(`klaxon ${command}: ${(err as Error).message}\n`);
    return undefined;
  }
}
