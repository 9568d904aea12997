// DESIGN.md's import rule for the webview scripts, checked on the source: they know only their
// own folder and server/common/, pure helpers that import nothing (the extension's own rule is in
// test/protocol/leaf.test.ts).
import assert from 'node:assert/strict';
import { importsUnder } from '../support/imports.js';

describe('import rules', () => {
  it('the webview scripts import nothing outside client/webview/ but server/common/', () => {
    const outside = importsUnder('client/webview').filter(
      ({ target }) => target !== null && !target.startsWith('client/webview/') && !target.startsWith('server/common/'),
    );
    assert.deepEqual(
      outside.map(({ file, target }) => `${file} imports ${target}`),
      [],
    );
  });
});
