// The walkthrough as package.json contributes it: text in the little markdown VS Code renders in a
// step (``preformatted``, __italic__, **bold**, links; a single backtick shows as itself), steps
// that complete on the context keys the client sets on real events, and both engines offered.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { engineAnswers, WALKTHROUGH_EVENTS, WALKTHROUGH_ID } from '../../client/model/walkthrough.js';
import type { DaemonInfo } from '../../server/protocol/methods.js';
import { endpointStatus } from '../support/endpoint-status.js';

interface Step {
  id: string;
  title: string;
  description: string;
  completionEvents: string[];
  media: { markdown: string };
}
const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
  publisher: string;
  name: string;
  contributes: { walkthroughs: Array<{ id: string; title: string; description: string; steps: Step[] }> };
};
const [walkthrough] = manifest.contributes.walkthroughs;
const steps = walkthrough!.steps;
const step = (id: string): Step => steps.find((candidate) => candidate.id === id)!;

function info(engineUp: boolean, endpointsUp: boolean[]): Pick<DaemonInfo, 'engine' | 'endpoints'> {
  return {
    engine: { name: 'ollama', url: 'http://127.0.0.1:11434', up: engineUp, models: [] },
    endpoints: endpointsUp.map((up, index) => endpointStatus({ name: `e${index}`, up })),
  };
}

describe('walkthrough', () => {
  it('has no backtick that VS Code would show as itself in a title or description', () => {
    for (const text of [
      walkthrough!.title,
      walkthrough!.description,
      ...steps.flatMap((s) => [s.title, s.description]),
    ])
      assert.doesNotMatch(text.replaceAll(/``[^`]+``/g, ''), /`/, text);
  });

  it('completes the steps on the client’s events, not on a command being started', () => {
    // Each event's key is what its step completes on, and nothing else completes a step.
    for (const { key, step: id } of Object.values(WALKTHROUGH_EVENTS))
      assert.deepEqual(step(id).completionEvents, [`onContext:${key}`], id);
    const stepsOfEvents = new Set<string>(Object.values(WALKTHROUGH_EVENTS).map(({ step: id }) => id));
    for (const { id, completionEvents } of steps)
      if (!stepsOfEvents.has(id))
        assert.ok(
          completionEvents.every((event) => !event.startsWith('onContext:')),
          id,
        );
  });

  it('names the walkthrough as VS Code does, to mark its steps: publisher.name#id', () => {
    assert.equal(WALKTHROUGH_ID, `${manifest.publisher}.${manifest.name}#${walkthrough!.id}`);
  });

  it('offers Ollama and the embedded engine alike', () => {
    const install = step('install');
    const media = readFileSync(install.media.markdown, 'utf8');
    for (const text of [install.title, install.description, media]) {
      assert.match(text, /Ollama\b/);
      assert.match(text, /embedded/i);
    }
    assert.match(install.description, /\(https:\/\/ollama\.com\/download\)/);
    assert.match(install.description, /\(command:ollamaBatch\.installEmbeddedEngine\)/);
    assert.match(install.description, /\(command:ollamaBatch\.chooseModelFile\)/);
  });

  it('counts an engine as answering when the default or any endpoint of the pool is up', () => {
    assert.equal(engineAnswers(info(false, [])), false);
    assert.equal(engineAnswers(info(false, [false, false])), false);
    assert.equal(engineAnswers(info(true, [])), true);
    assert.equal(engineAnswers(info(false, [false, true])), true);
  });
});
