// One way to say that a component's option is wrong, for every package's options: the component,
// the option, the value given and what is accepted, always TANDEM_ERR_CONFIG_INVALID with the same
// details, so an operator reads every such message the same way.
import { TandemError } from './errors.ts';

/** `<component> option <option>=<value> is not valid; expected <expected>`. */
export function invalidOption(
  component: string,
  option: string,
  value: unknown,
  expected: string,
): TandemError {
  return new TandemError(
    'TANDEM_ERR_CONFIG_INVALID',
    `${component} option ${option}=${describeValue(value)} is not valid; expected ${expected}`,
    { details: { component, option, value: describeValue(value), expected } },
  );
}

/** Longest value a message quotes: an options object handed in whole could be any size. */
const MAX_VALUE_CHARS = 120;

/** A value as an operator would write it (JSON, cut short), or its kind when JSON has no form for it. */
function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}
