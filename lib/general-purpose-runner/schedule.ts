/**
 * CronJob schedule validation, following the parser Kubernetes uses
 * (robfig/cron `ParseStandard`): five fields, or one of the `@`-macros.
 */

/** The macros a CronJob accepts instead of five fields. */
export const CRON_MACROS: readonly string[] = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  // robfig/cron accepts 0-6 only: 7 for Sunday is refused by the API server
  { name: 'day of week', min: 0, max: 6, names: DAYS },
];

function parseValue(raw: string, field: CronField, schedule: string, prop: string): number {
  const lower = raw.toLowerCase();
  const named = field.names?.indexOf(lower) ?? -1;
  let value: number;
  if (named >= 0) {
    value = field.min + named;
  } else if (/^\d+$/.test(raw)) {
    value = Number(raw);
    if (value < field.min || value > field.max) {
      throw new Error(
        `${prop} ${field.name} must be ${field.min}-${field.max}, got ${raw.length > 10 ? `${raw.slice(0, 10)}...` : raw} in "${schedule}"`,
      );
    }
  } else {
    const allowed = field.names ? ` or a name (${field.names.join(', ')})` : '';
    throw new Error(`${prop} ${field.name} must be a number ${field.min}-${field.max}${allowed}, got "${raw}" in "${schedule}"`);
  }
  if (value < field.min || value > field.max) {
    throw new Error(`${prop} ${field.name} must be ${field.min}-${field.max}, got ${value} in "${schedule}"`);
  }
  return value;
}

function validateItem(item: string, field: CronField, schedule: string, prop: string): void {
  const [range, step, extra] = item.split('/');
  if (extra !== undefined || range === '' || step === '') {
    throw new Error(`${prop} ${field.name} must be a value, range (a-b), list (a,b) or step (*/n), got "${item}" in "${schedule}"`);
  }
  const span = field.max - field.min + 1;
  if (step !== undefined && (!/^\d+$/.test(step) || Number(step) < 1 || Number(step) >= span)) {
    throw new Error(`${prop} ${field.name} step must be an integer 1-${span - 1}, got "${step}" in "${schedule}"`);
  }
  if (range === '*' || range === '?') return;
  const bounds = range.split('-');
  if (bounds.length > 2 || bounds.some((b) => b === '')) {
    throw new Error(`${prop} ${field.name} must be a value, range (a-b), list (a,b) or step (*/n), got "${item}" in "${schedule}"`);
  }
  const low = parseValue(bounds[0], field, schedule, prop);
  const high = bounds.length === 2 ? parseValue(bounds[1], field, schedule, prop) : low;
  if (low > high) {
    throw new Error(`${prop} ${field.name} range must go from low to high, got "${range}" in "${schedule}"`);
  }
}

/** The values an already validated field selects. */
function fieldValues(text: string, field: CronField): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const [range, step] = item.split('/');
    const num = (raw: string) => {
      const i = field.names?.indexOf(raw.toLowerCase()) ?? -1;
      return i >= 0 ? field.min + i : Number(raw);
    };
    const bounds = range.split('-');
    const low = range === '*' || range === '?' ? field.min : num(bounds[0]);
    // "5/10" runs from 5 to the end of the field, as robfig/cron reads it
    const high = range === '*' || range === '?' || (bounds.length === 1 && step !== undefined) ? field.max : num(bounds[bounds.length - 1]);
    for (let v = low; v <= high; v += step === undefined ? 1 : Number(step)) out.add(v);
  }
  return out;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Refuses a day of month that no selected month has (30 February, 31 April):
 * the CronJob would never run. When both day of month and day of week are
 * restricted, cron runs on either, so the day of week still fires.
 */
function checkDateOccurs(fields: string[], schedule: string, prop: string): void {
  const [, , domText, monthText, dowText] = fields;
  const unrestricted = (t: string) => t.startsWith('*') || t.startsWith('?');
  if (unrestricted(domText) || !unrestricted(dowText)) return;
  const days = [...fieldValues(domText, FIELDS[2])];
  const months = [...fieldValues(monthText, FIELDS[3])];
  if (months.some((m) => days.some((d) => d <= DAYS_IN_MONTH[m - 1]))) return;
  const longest = Math.max(...months.map((m) => DAYS_IN_MONTH[m - 1]));
  throw new Error(
    `${prop} day of month ${domText} never occurs in month ${monthText} (the longest of those months has ${longest} days), ` +
      `got "${schedule}": the CronJob would never run`,
  );
}

/**
 * Validates a CronJob schedule: five space-separated fields (minute, hour, day
 * of month, month, day of week) made of values, names (`jan`, `mon`), ranges
 * (`1-5`), lists (`1,15`) and steps (`*\/10`, `0-30/5`), or one of
 * {@link CRON_MACROS}. Returns the schedule unchanged.
 *
 * @param prop the prop name used in error messages
 */
export function validateCronSchedule(schedule: string, prop: string = 'schedule'): string {
  if (typeof schedule !== 'string' || schedule.trim() === '') {
    throw new Error(`${prop} must be a cron expression like "*/15 * * * *" or a macro (${CRON_MACROS.join(', ')}), got ${JSON.stringify(schedule)}`);
  }
  if (/^\s*(CRON_)?TZ=/.test(schedule)) {
    throw new Error(`${prop} must not carry a time zone (the API server refuses "TZ="), set timeZone instead, got "${schedule}"`);
  }
  const trimmed = schedule.trim();
  if (trimmed.startsWith('@')) {
    if (!CRON_MACROS.includes(trimmed.toLowerCase())) {
      throw new Error(`${prop} macro must be one of ${CRON_MACROS.join(', ')}, got "${schedule}"`);
    }
    return schedule;
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== FIELDS.length) {
    throw new Error(`${prop} must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length} in "${schedule}"`);
  }
  fields.forEach((f, i) => {
    for (const item of f.split(',')) validateItem(item, FIELDS[i], schedule, prop);
  });
  checkDateOccurs(fields, schedule, prop);
  return schedule;
}
