/**
 * Markdown tables made from the JSDoc of the source, read with the TypeScript
 * compiler API, so each default and description is written once, in the code.
 *
 * - An interface or a type literal: one row per property with its name, its
 *   type as written, its `@default` ("required" when it is not optional,
 *   "none" when it is optional and has no `@default`) and its description.
 *   A property whose type is an option interface of this repository, or a type
 *   literal whose members are documented, gets a table of its own below,
 *   linked from the row.
 * - An `as const` object: one row per member with its name, its value and its
 *   description.
 */
import * as path from 'node:path';
import { slug } from 'github-slugger';
import * as ts from 'typescript';
import type { RegionSpec } from './regions.js';

type Members = readonly ts.TypeElement[];

interface Nested {
  readonly heading: string;
  readonly members: Members;
  /** The row's own `@default`, which covers the members that have none. */
  readonly defaultFrom: string | undefined;
}

/** Type text without the JSDoc of inline members, on one line. */
const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });

export class SourceTables {
  private readonly program: ts.Program;
  private readonly checker: ts.TypeChecker;

  constructor(
    private readonly root: string,
    files: readonly string[],
  ) {
    const configPath = path.join(root, 'tsconfig.typedoc.json');
    const config = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
    if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    this.program = ts.createProgram({
      rootNames: files.map((file) => path.join(root, file)),
      options: parsed.options,
    });
    this.checker = this.program.getTypeChecker();
  }

  render(spec: RegionSpec): string {
    const source = this.program.getSourceFile(path.join(this.root, spec.file));
    if (!source) throw new Error(`${spec.file}: no such source file`);
    const declaration = findDeclaration(source, spec.name);
    if (!declaration) throw new Error(`${spec.file}: no exported interface, type or const named ${spec.name}`);

    if (ts.isVariableDeclaration(declaration)) {
      return this.constTable(source, spec, constObject(declaration, spec));
    }
    if (spec.joins.length > 0) throw new Error(`${spec.file}#${spec.name}: +columns apply to as-const objects only`);
    const members = this.membersOf(declaration);
    if (!members) throw new Error(`${spec.file}#${spec.name} is neither an interface nor an object type`);
    return spec.members ? memberTable(members) : this.optionTables(spec.name, members, spec.level);
  }

  private constTable(source: ts.SourceFile, spec: RegionSpec, object: ts.ObjectLiteralExpression): string {
    const joined = spec.joins.map((name) => {
      const declaration = findDeclaration(source, name);
      if (!declaration || !ts.isVariableDeclaration(declaration)) throw new Error(`${spec.file}: no exported const named ${name}`);
      const values = new Map<string, string>();
      for (const property of constObject(declaration, spec).properties) {
        if (ts.isPropertyAssignment(property)) values.set(property.name.getText(), property.initializer.getText());
      }
      return { name, values };
    });
    const lines = [row(['name', 'value', ...joined.map((join) => join.name), 'description']), row(['---', '---', ...joined.map(() => '---'), '---'])];
    for (const property of object.properties) {
      if (!ts.isPropertyAssignment(property)) throw new Error(`${spec.file}#${spec.name}: only plain members can be listed`);
      const key = property.name.getText();
      const extra = joined.map((join) => {
        const value = join.values.get(key);
        if (value === undefined) throw new Error(`${spec.file}#${join.name} has no member ${key}`);
        return code(value);
      });
      lines.push(row([code(key), code(property.initializer.getText()), ...extra, description(property)]));
    }
    return lines.join('\n');
  }

  /** A table for `members`, followed by one table per nested option type (depth first). */
  private optionTables(title: string, members: Members, level: number, defaultFrom?: string): string {
    const nested: Nested[] = [];
    const lines = [row(['option', 'type', 'default', 'description']), row(['---', '---', '---', '---'])];
    for (const member of members) {
      if (!ts.isPropertySignature(member) && !ts.isMethodSignature(member)) continue;
      const name = member.name.getText();
      const own = defaultOf(member);
      let type = code(typeText(member));
      let fallback = member.questionToken || defaultFrom ? 'none' : 'required';
      if (defaultFrom && !own) fallback = `see \`${defaultFrom}\``;
      const inner = member.type ? this.nestedMembers(member.type) : undefined;
      if (inner) {
        const heading = `${title}.${name}`;
        nested.push({ heading, members: inner, defaultFrom: own === undefined ? undefined : name });
        type = `[${type}](#${slug(heading)})`;
        if (!own && fallback !== 'required') fallback = 'see below';
      }
      lines.push(row([code(name), type, own ?? fallback, description(member)]));
    }
    const parts = [lines.join('\n')];
    for (const { heading, members: inner, defaultFrom: from } of nested) {
      parts.push(`${'#'.repeat(level)} ${heading}\n\n${this.optionTables(heading, inner, level, from)}`);
    }
    return parts.join('\n\n');
  }

  /**
   * The members to document in a table of their own for a property of this
   * type: an option interface declared in this repository (reached through
   * unions, `Partial<...>` and the like), or a type literal with documented
   * members. Interfaces with methods (`Herald`) are services, not options.
   */
  private nestedMembers(type: ts.TypeNode): Members | undefined {
    if (ts.isTypeLiteralNode(type)) return type.members.some((member) => ts.getJSDocCommentsAndTags(member).length > 0) ? type.members : undefined;
    if (ts.isUnionTypeNode(type) || ts.isIntersectionTypeNode(type)) {
      for (const part of type.types) {
        const found = this.nestedMembers(part);
        if (found) return found;
      }
      return undefined;
    }
    if (ts.isParenthesizedTypeNode(type)) return this.nestedMembers(type.type);
    if (!ts.isTypeReferenceNode(type)) return undefined;
    let symbol = this.checker.getSymbolAtLocation(type.typeName);
    if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    const declaration = symbol?.declarations?.[0];
    if (declaration && !declaration.getSourceFile().fileName.includes('/node_modules/')) {
      const members = this.membersOf(declaration);
      if (members && members.length > 0 && members.every((member) => ts.isPropertySignature(member))) return members;
    }
    for (const argument of type.typeArguments ?? []) {
      const found = this.nestedMembers(argument);
      if (found) return found;
    }
    return undefined;
  }

  /** The property declarations of an interface (inherited ones included) or of an object type alias. */
  private membersOf(declaration: ts.Declaration): Members | undefined {
    if (ts.isTypeAliasDeclaration(declaration)) return ts.isTypeLiteralNode(declaration.type) ? declaration.type.members : undefined;
    if (!ts.isInterfaceDeclaration(declaration)) return undefined;
    const symbol = this.checker.getSymbolAtLocation(declaration.name);
    if (!symbol) return undefined;
    const type = this.checker.getDeclaredTypeOfSymbol(symbol);
    const members: ts.TypeElement[] = [];
    for (const property of this.checker.getPropertiesOfType(type)) {
      const node = property.declarations?.[0];
      if (node && (ts.isPropertySignature(node) || ts.isMethodSignature(node))) members.push(node);
    }
    return members;
  }
}

/** The members of an object a call returns: name, type (a method as its signature) and description. */
function memberTable(members: Members): string {
  const lines = [row(['member', 'type', 'description']), row(['---', '---', '---'])];
  for (const member of members) {
    if (!ts.isPropertySignature(member) && !ts.isMethodSignature(member)) continue;
    lines.push(row([code(member.name.getText()), code(typeText(member)), description(member)]));
  }
  return lines.join('\n');
}

/** A member's type as written (without inline JSDoc), on one line; a method's as its signature. */
function typeText(member: ts.PropertySignature | ts.MethodSignature): string {
  const print = (node: ts.Node): string => squash(printer.printNode(ts.EmitHint.Unspecified, node, member.getSourceFile()));
  const type = member.type ? print(member.type) : 'unknown';
  if (ts.isPropertySignature(member)) return type;
  return `(${member.parameters.map(print).join(', ')}) => ${type}`;
}

function findDeclaration(source: ts.SourceFile, name: string): ts.InterfaceDeclaration | ts.TypeAliasDeclaration | ts.VariableDeclaration | undefined {
  for (const statement of source.statements) {
    if ((ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) && statement.name.text === name) return statement;
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (ts.isIdentifier(declaration.name) && declaration.name.text === name) return declaration;
      }
    }
  }
  return undefined;
}

/** The object literal of `const X = { ... } as const` (a `satisfies` after it allowed). */
function constObject(declaration: ts.VariableDeclaration, spec: RegionSpec): ts.ObjectLiteralExpression {
  let expression = declaration.initializer;
  let constAsserted = false;
  while (expression && (ts.isAsExpression(expression) || ts.isSatisfiesExpression(expression) || ts.isParenthesizedExpression(expression))) {
    if (ts.isAsExpression(expression) && expression.type.getText() === 'const') constAsserted = true;
    expression = expression.expression;
  }
  if (!expression || !ts.isObjectLiteralExpression(expression) || !constAsserted) {
    throw new Error(`${spec.file}#${declaration.name.getText()} is not an \`as const\` object`);
  }
  return expression;
}

function jsDocOf(node: ts.Node): ts.JSDoc | undefined {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  return docs[docs.length - 1];
}

/** The JSDoc text of a node as one table cell: paragraphs and list items kept apart with `<br>`. */
function description(node: ts.Node): string {
  const text = ts.getTextOfJSDocComment(jsDocOf(node)?.comment) ?? '';
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) =>
      paragraph
        .split('\n')
        .map((line) => line.trim())
        .map((line, index) => (index > 0 && line.startsWith('- ') ? `<br>${line}` : line))
        .join(' ')
        .replace(/ <br>/g, '<br>'),
    )
    .join('<br><br>');
}

/** The `@default` of a member, its leading value in code style. */
function defaultOf(node: ts.Node): string | undefined {
  const tag = jsDocOf(node)?.tags?.find((candidate) => candidate.tagName.text === 'default');
  if (!tag) return undefined;
  const text = squash(ts.getTextOfJSDocComment(tag.comment) ?? '');
  const value = /^('[^']*'|-?[\d_.]+|\[[^\]]*\]|\{[^}]*\}|true|false|null|undefined|[A-Za-z_$][\w$.]*\(\)|console\.\w+|Date\.now)(?=$|[\s;:,(])/.exec(text);
  if (!value?.[1]) return text;
  return code(value[1]) + text.slice(value[1].length);
}

function squash(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function code(text: string): string {
  return `\`${text}\``;
}

/** A table row; `|` inside a cell is escaped (GitHub needs that inside code spans too). */
function row(cells: readonly string[]): string {
  return `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
}
