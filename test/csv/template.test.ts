// Templates fill the user message from a row, and a wrong column fails before any row is read.
import assert from 'node:assert/strict';
import { compileTemplate, defaultTemplate, renderTemplate, TemplateError } from '../../server/csv/template.js';

const columns = ['id', 'first name', 'city'];

describe('{{column}} templates', () => {
  it('fills placeholders, with or without spaces inside the braces, and keeps the text around them', () => {
    const template = compileTemplate('Hello {{first name}} from {{ city }}!\n({{id}}, again {{city}})', columns);
    assert.equal(renderTemplate(template, ['7', 'Ana', 'Lagos']), 'Hello Ana from Lagos!\n(7, again Lagos)');
    assert.deepEqual(template.slots, [1, 2, 0, 2]);
    assert.equal(template.statics.length, template.slots.length + 1);
  });

  it('names every unknown column and the known ones', () => {
    assert.throws(
      () => compileTemplate('{{id}} {{nmae}} {{ town }} {{nmae}}', columns),
      (error: Error) =>
        error instanceof TemplateError &&
        error.message ===
          'the template uses {{nmae}}, {{town}}, which are not columns of the CSV; the columns are: id, first name, city',
    );
    assert.throws(() => compileTemplate('{{ID}}', columns), /uses \{\{ID\}\}, which is not a column/);
  });

  it('refuses a template without placeholders: every request would be the same', () => {
    assert.throws(() => compileTemplate('Score this candidate.', columns), /no \{\{column\}\} placeholders/);
  });

  it('lists every column as "column: value" without a template', () => {
    assert.equal(renderTemplate(defaultTemplate(columns), ['7', 'Ana', '']), 'id: 7\nfirst name: Ana\ncity: ');
  });
});
