import { QueryError, RulesError } from '../errors';
import type { Filter } from '../query/ast';
import { validateFieldPath, validateFilter } from '../query/validate';
import { PLACEHOLDER_PREFIX, RESERVED_PREFIX } from './placeholders';
import type { CollectionRules, FieldList, FieldRights, Role, RuleFilter, Rules } from './rules';

const MAX_DEPTH = 32;
const ROLE_KEYS = ['name', 'applyWhen', 'read', 'write', 'insert', 'delete', 'fields'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

class Problems {
  readonly list: string[] = [];
  add(at: string, message: string): void {
    this.list.push(`${at}: ${message}`);
  }
}

function isPlaceholder(value: unknown): value is string {
  if (typeof value !== 'string' || !value.startsWith(PLACEHOLDER_PREFIX)) return false;
  try {
    validateFieldPath(value.slice(PLACEHOLDER_PREFIX.length));
    return true;
  } catch {
    return false;
  }
}

function isReserved(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(RESERVED_PREFIX);
}

function checkPlaceholders(
  values: readonly unknown[],
  at: string,
  problems: Problems,
  allowed: boolean,
): void {
  for (const value of values) {
    if (!isReserved(value)) continue;
    if (!allowed) problems.add(at, `placeholders such as ${JSON.stringify(value)} are not allowed here`);
    else if (!isPlaceholder(value)) {
      problems.add(
        at,
        `${JSON.stringify(value)} is not a placeholder: write %%user.<claim path>, e.g. %%user.sub`,
      );
    }
  }
}

function checkLeaf(
  input: Record<string, unknown>,
  at: string,
  problems: Problems,
  placeholders: boolean,
): RuleFilter | null {
  const wholeValues = (input.op === 'in' || input.op === 'nin') && typeof input.values === 'string';
  let leaf: Filter;
  try {
    leaf = validateFilter(wholeValues ? { ...input, values: [] } : input);
  } catch (error) {
    problems.add(
      at,
      error instanceof QueryError
        ? error.message.replace(/^Invalid query at filter/, 'invalid filter')
        : String(error),
    );
    return null;
  }
  if (wholeValues) {
    const values = input.values as string;
    if (!placeholders) problems.add(at, 'placeholders are not allowed here');
    else if (!isPlaceholder(values))
      problems.add(at, `"values" must be an array or one %%user.<claim> placeholder`);
    return { op: input.op as 'in' | 'nin', field: (leaf as { field: string }).field, values };
  }
  if (leaf.op === 'in' || leaf.op === 'nin') checkPlaceholders(leaf.values, at, problems, placeholders);
  else if ('value' in leaf) checkPlaceholders([leaf.value], at, problems, placeholders);
  return leaf;
}

function checkRuleFilter(
  input: unknown,
  at: string,
  depth: number,
  problems: Problems,
  placeholders: boolean,
): RuleFilter | null {
  if (!isPlainObject(input)) {
    problems.add(at, `expected a filter object, found ${describe(input)}`);
    return null;
  }
  if (depth > MAX_DEPTH) {
    problems.add(at, `filters nest deeper than ${MAX_DEPTH} levels`);
    return null;
  }
  const keys = Object.keys(input);
  if (input.op === 'and' || input.op === 'or') {
    if (keys.some((k) => k !== 'op' && k !== 'filters') || !Array.isArray(input.filters)) {
      problems.add(at, `"${input.op}" takes exactly { op, filters: [...] }`);
      return null;
    }
    const filters = input.filters.map((f, i) =>
      checkRuleFilter(f, `${at}.filters[${i}]`, depth + 1, problems, placeholders),
    );
    return filters.every((f) => f !== null) ? { op: input.op, filters: filters as RuleFilter[] } : null;
  }
  if (input.op === 'not') {
    if (keys.some((k) => k !== 'op' && k !== 'filter')) {
      problems.add(at, '"not" takes exactly { op, filter }');
      return null;
    }
    const inner = checkRuleFilter(input.filter, `${at}.filter`, depth + 1, problems, placeholders);
    return inner === null ? null : { op: 'not', filter: inner };
  }
  return checkLeaf(input, at, problems, placeholders);
}

function checkRowFilter(input: unknown, at: string, problems: Problems): RuleFilter | boolean | null {
  if (input === undefined) {
    problems.add(at, 'is required (a filter, true or false)');
    return null;
  }
  if (typeof input === 'boolean') return input;
  return checkRuleFilter(input, at, 0, problems, true);
}

function checkFieldList(input: unknown, at: string, problems: Problems): FieldList | undefined {
  if (input === '*') return '*';
  if (!Array.isArray(input)) {
    problems.add(at, `expected "*" or an array of field paths, found ${describe(input)}`);
    return undefined;
  }
  const list: string[] = [];
  input.forEach((path, i) => {
    try {
      list.push(validateFieldPath(path));
    } catch {
      problems.add(
        `${at}[${i}]`,
        `expected a dotted field path, found ${JSON.stringify(path) ?? describe(path)}`,
      );
    }
  });
  return list;
}

function checkFields(input: unknown, at: string, problems: Problems): FieldRights | undefined {
  if (!isPlainObject(input)) {
    problems.add(at, `expected { read?, write? }, found ${describe(input)}`);
    return undefined;
  }
  for (const key of Object.keys(input)) {
    if (key !== 'read' && key !== 'write') problems.add(at, `unexpected key "${key}" (allowed: read, write)`);
  }
  const rights: { read?: FieldList; write?: FieldList } = {};
  if (input.read !== undefined) {
    const read = checkFieldList(input.read, `${at}.read`, problems);
    if (read !== undefined) rights.read = read;
  }
  if (input.write !== undefined) {
    const write = checkFieldList(input.write, `${at}.write`, problems);
    if (write !== undefined) rights.write = write;
  }
  return rights;
}

function checkRole(input: unknown, at: string, problems: Problems): Role | null {
  if (!isPlainObject(input)) {
    problems.add(at, `expected a role object, found ${describe(input)}`);
    return null;
  }
  for (const key of Object.keys(input)) {
    if (!ROLE_KEYS.includes(key))
      problems.add(at, `unexpected key "${key}" (allowed: ${ROLE_KEYS.join(', ')})`);
  }
  const before = problems.list.length;
  if (typeof input.name !== 'string' || input.name.length === 0)
    problems.add(`${at}.name`, 'must be a non-empty string');
  let applyWhen: Filter | undefined;
  if (input.applyWhen !== undefined) {
    const checked = checkRuleFilter(input.applyWhen, `${at}.applyWhen`, 0, problems, false);
    if (checked !== null) applyWhen = checked as Filter;
  }
  const read = checkRowFilter(input.read, `${at}.read`, problems);
  const write = checkRowFilter(input.write, `${at}.write`, problems);
  for (const key of ['insert', 'delete'] as const) {
    if (typeof input[key] !== 'boolean')
      problems.add(`${at}.${key}`, `must be true or false, found ${describe(input[key])}`);
  }
  const fields = input.fields === undefined ? undefined : checkFields(input.fields, `${at}.fields`, problems);
  if (problems.list.length > before || read === null || write === null) return null;
  return {
    name: input.name as string,
    ...(applyWhen === undefined ? {} : { applyWhen }),
    read,
    write,
    insert: input.insert as boolean,
    delete: input.delete as boolean,
    ...(fields === undefined ? {} : { fields }),
  };
}

function checkCollection(input: unknown, at: string, problems: Problems): CollectionRules | null {
  if (!isPlainObject(input)) {
    problems.add(at, `expected { roles: [...] }, found ${describe(input)}`);
    return null;
  }
  for (const key of Object.keys(input))
    if (key !== 'roles') problems.add(at, `unexpected key "${key}" (allowed: roles)`);
  if (!Array.isArray(input.roles)) {
    problems.add(`${at}.roles`, `expected an array of roles, found ${describe(input.roles)}`);
    return null;
  }
  const roles = input.roles.map((role, i) => checkRole(role, `${at}.roles[${i}]`, problems));
  const names = new Set<string>();
  for (const role of input.roles) {
    const name: unknown = isPlainObject(role) ? role.name : undefined;
    if (typeof name !== 'string') continue;
    if (names.has(name)) problems.add(`${at}.roles`, `two roles are named ${JSON.stringify(name)}`);
    names.add(name);
  }
  return roles.every((r) => r !== null) ? { roles: roles as Role[] } : null;
}

/**
 * Reads rules from untrusted JSON (a rules file) and returns them typed, or throws {@link RulesError} whose
 * message lists every problem found with its location (`orders.roles[1].read.filters[0].value: ...`).
 *
 * Checks: the shape of every collection and role, unknown keys (a misspelt `wirte` is an error, not ignored),
 * required `name`/`read`/`write`/`insert`/`delete`, unique role names per collection, every filter as
 * `validateFilter` does, field lists of valid paths, and placeholders: only `%%user.<claim path>` in
 * `read`/`write`, none in `applyWhen`. Never throws anything but `RulesError`.
 */
export function validateRules(input: unknown): Rules {
  const problems = new Problems();
  const rules: Record<string, CollectionRules> = {};
  try {
    if (!isPlainObject(input)) {
      problems.add(
        'rules',
        `expected an object mapping collection names to { roles }, found ${describe(input)}`,
      );
    } else {
      for (const [collection, value] of Object.entries(input)) {
        if (collection.length === 0) problems.add('rules', 'a collection name is empty');
        const checked = checkCollection(value, collection, problems);
        if (checked !== null)
          Object.defineProperty(rules, collection, { value: checked, enumerable: true, writable: false });
      }
    }
  } catch (error) {
    problems.add('rules', `could not be read (${String(error)})`);
  }
  if (problems.list.length > 0) {
    const shown = problems.list.slice(0, 50);
    const more = problems.list.length - shown.length;
    throw new RulesError(`Invalid rules: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`);
  }
  return rules;
}
