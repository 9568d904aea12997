// package.json's `contributes.configuration` and the README's settings table are what the
// settings table says: package.json for every setting with a VS Code name, plus the extension's
// own two (its data dir, the model Convert offers).
// After a change to the table: UPDATE_SETTINGS_DOCS=1 npx mocha test/config/settings-docs.test.ts
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { SETTING_KEYS, specOf } from '../../server/config/settings.js';

const PACKAGE = new URL('../../package.json', import.meta.url);
const README = new URL('../../README.md', import.meta.url);

/** Settings of the extension alone (no daemon reads them), and where they stand among the table's. */
const EXTENSION_ONLY = { defaultModel: { after: 'engine' }, dataDir: { after: null } } as const;

type Property = Record<string, unknown>;

function tableProperties(): Array<[string, Property]> {
  return SETTING_KEYS.flatMap((key): Array<[string, Property]> => {
    const spec = specOf(key);
    if (!spec.editorName) return [];
    const { type, ...schema } = spec.editor;
    const fixed = spec.default !== undefined;
    const fallback = fixed ? `\`${JSON.stringify(spec.default)}\`` : spec.defaultText!;
    const byEnv = spec.env ? `\`$${spec.env}\`, else ` : '';
    return [
      [
        spec.editorName,
        {
          // Without a default of its own a number may be left empty (null): the daemon decides.
          type: fixed || type === 'string' || type === 'object' ? type : [type, 'null'],
          ...schema,
          default: fixed ? spec.default : type === 'string' ? '' : null,
          // machine-overridable: set once in the User settings, shown there in Remote windows too.
          scope: spec.scope === 'daemon' ? 'machine-overridable' : 'resource',
          markdownDescription: `${spec.description}\n\nDefault: ${byEnv}${fallback}.`,
        },
      ],
    ];
  });
}

function expectedConfiguration(current: Record<string, Property>): Record<string, Property> {
  const ordered = tableProperties();
  for (const [name, { after }] of Object.entries(EXTENSION_ONLY)) {
    const entry: [string, Property] = [name, current[`ollamaBatch.${name}`] ?? {}];
    const at = after === null ? ordered.length : ordered.findIndex(([other]) => other === after) + 1;
    ordered.splice(at, 0, entry);
  }
  return Object.fromEntries(
    ordered.map(([name, property], index) => [`ollamaBatch.${name}`, { ...property, order: index + 1 }]),
  );
}

describe("package.json's settings", () => {
  it('are the settings table, in its order, each with its own description and its default', () => {
    const manifest = JSON.parse(readFileSync(PACKAGE, 'utf8')) as {
      contributes: { configuration: { properties: Record<string, Property> } };
    };
    const current = manifest.contributes.configuration.properties;
    const expected = expectedConfiguration(current);
    if (process.env.UPDATE_SETTINGS_DOCS) {
      manifest.contributes.configuration.properties = expected;
      writeFileSync(PACKAGE, `${JSON.stringify(manifest, null, 2)}\n`);
    }
    assert.deepEqual(current, expected, "package.json and the settings table disagree: see this file's first lines");
    const descriptions = Object.values(current).map((property) => property.markdownDescription ?? property.description);
    assert.equal(new Set(descriptions).size, descriptions.length, 'no two settings share a description');
  });

  it("are the README's settings table", async () => {
    const readme = readFileSync(README, 'utf8');
    const [start, end] = [
      '<!-- settings table: made from server/config/settings.ts -->\n',
      '<!-- end of settings table -->',
    ];
    const at = readme.indexOf(start);
    const until = readme.indexOf(end, at);
    assert.ok(at >= 0 && until > at, 'the README marks where its settings table is');
    // As Prettier lays it out (npm run lint checks the README with it).
    const expected = await prettier.format(
      `${readme.slice(0, at + start.length)}${markdownTable()}${readme.slice(until)}`,
      {
        ...(await prettier.resolveConfig(fileURLToPath(README))),
        filepath: fileURLToPath(README),
      },
    );
    if (process.env.UPDATE_SETTINGS_DOCS) writeFileSync(README, expected);
    assert.equal(
      readme,
      expected,
      "the README's settings table and server/config/settings.ts disagree: see this file's first lines",
    );
  });
});

/** The table for people: key, flag, environment variable, VS Code setting, scope, default, what it does. */
function markdownTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = SETTING_KEYS.map((key) => {
    const spec = specOf(key);
    const fallback = spec.default !== undefined ? `\`${JSON.stringify(spec.default)}\`` : spec.defaultText!;
    return [
      `\`${key}\``,
      `\`${spec.flag}\``,
      spec.env ? `\`${spec.env}\`` : '',
      spec.editorName ? `\`ollamaBatch.${spec.editorName}\`` : '',
      spec.scope,
      fallback,
      spec.description,
    ].map(cell);
  });
  const header = ['config.json key', 'flag', 'environment', 'VS Code', 'scope', 'default', 'what it does'];
  return [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |\n`).join('');
}
