/** JSON settings (ROUTING, WRITES): parsing one object and reading its fields, every problem named by its path. */

/** A JSON string (wrangler.toml) or an already parsed object ([vars] as a TOML table). */
/** How a JSON setting names itself in its problems: `ROUTING`, "routing", "the JSON routing policy", an example. */
export interface SettingName {
  name: string;
  label: string;
  what: string;
  example: string;
}

export function parseObject(raw: unknown, setting: SettingName, problems: string[]): Record<string, unknown> {
  const { name, example } = setting;
  if (raw === undefined || raw === "") return {};
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw) && Object.getPrototypeOf(raw) !== Object.prototype) {
    // A Durable Object namespace or another binding under the setting's name.
    problems.push(`${name} is a binding, not the ${setting.label} setting: give the binding another name (${name} is ${setting.what})`);
    return {};
  }
  let parsed: unknown = raw;
  if (typeof raw === "string") {
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      problems.push(`${name} must be a JSON object, got ${JSON.stringify(raw)} (${(err as Error).message})`);
      return {};
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push(`${name} must be a JSON object like ${example}, got ${JSON.stringify(raw)}`);
    return {};
  }
  return parsed as Record<string, unknown>;
}

/** Reads the fields of one JSON object, naming each problem by its path (`ROUTING.latency.alpha`). */
export class FieldReader {
  protected readonly path: string;
  protected readonly fields: Record<string, unknown>;
  protected readonly problems: string[];

  constructor(path: string, fields: Record<string, unknown>, problems: string[]) {
    this.path = path;
    this.fields = fields;
    this.problems = problems;
  }

  unknown(known: string[]): void {
    for (const name of Object.keys(this.fields)) {
      if (!known.includes(name)) this.problems.push(`${this.path}.${name} is not a known field (known: ${known.join(", ")})`);
    }
  }

  number(name: string, fallback: number, min: number, max: number, whole: boolean): number {
    const value = this.fields[name];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
      this.problems.push(`${this.path}.${name} must be ${whole ? "a whole number" : "a number"} from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.fields[name];
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") {
      this.problems.push(`${this.path}.${name} must be true or false, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.fields[name];
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${this.path}.${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value as T;
  }

  /** A nested object (`retry_budget`, `latency`), its unknown fields reported. */
  nested(name: string, defaults: Record<string, unknown>): FieldReader {
    const value = this.fields[name];
    const where = `${this.path}.${name}`;
    if (value === undefined) return new FieldReader(where, {}, this.problems);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.problems.push(`${where} must be an object with ${Object.keys(defaults).join(", ")}, got ${JSON.stringify(value)}`);
      return new FieldReader(where, {}, this.problems);
    }
    const reader = new FieldReader(where, value as Record<string, unknown>, this.problems);
    reader.unknown(Object.keys(defaults));
    return reader;
  }
}
