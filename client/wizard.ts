// A guided flow of quick picks and input boxes, one step after another: each shows "step n of m"
// in its title and, from the second on, a Back button that returns to the step before with its
// answer kept (the steps keep their answers and offer them again). The multi-step input pattern
// of VS Code's extension samples.
import * as vscode from 'vscode';
import { STAY_OPEN } from './pick.js';

/** The user pressed Back. */
export const BACK = Symbol('back');
/** A prompt's answer: the value, Back, or undefined when the user closed it (Escape). */
export type Answer<T> = T | typeof BACK | undefined;
/** One step: true to go on, BACK to go to the step before, false to give up the whole flow. */
export type WizardStep = (wizard: Wizard) => Promise<boolean | typeof BACK>;

export interface PickOptions<T extends vscode.QuickPickItem> {
  items: readonly T[];
  /** The item to highlight: the step's earlier answer, or the best guess. */
  active?: T;
  placeholder?: string;
  matchOnDescription?: boolean;
}

export interface InputOptions {
  value: string;
  prompt: string;
  placeholder?: string;
  /** An error message for a value that cannot be accepted, else null. */
  validate?: (value: string) => string | null;
}

export class Wizard {
  /** From 1; set by runWizard before each step. */
  step = 1;
  private current: vscode.QuickInput | undefined;

  constructor(
    readonly title: string,
    readonly totalSteps: number,
  ) {}

  pick<T extends vscode.QuickPickItem>(options: PickOptions<T>): Promise<Answer<T>> {
    const pick = vscode.window.createQuickPick<T>();
    pick.items = options.items;
    if (options.active) pick.activeItems = [options.active];
    pick.placeholder = options.placeholder;
    pick.matchOnDescription = options.matchOnDescription ?? false;
    return this.prompt(pick, () => pick.selectedItems[0]);
  }

  /** Several items at once; `selected` checked to begin with. */
  pickMany<T extends vscode.QuickPickItem>(options: PickOptions<T> & { selected: readonly T[] }): Promise<Answer<T[]>> {
    const pick = vscode.window.createQuickPick<T>();
    pick.canSelectMany = true;
    pick.items = options.items;
    pick.selectedItems = options.selected;
    pick.placeholder = options.placeholder;
    return this.prompt(pick, () => (pick.selectedItems.length > 0 ? [...pick.selectedItems] : undefined));
  }

  input(options: InputOptions): Promise<Answer<string>> {
    const box = vscode.window.createInputBox();
    box.value = options.value;
    box.prompt = options.prompt;
    box.placeholder = options.placeholder;
    const check = (): string | null => options.validate?.(box.value) ?? null;
    box.validationMessage = check() ?? undefined;
    const typing = box.onDidChangeValue(() => (box.validationMessage = check() ?? undefined));
    return this.prompt(box, () => (check() === null ? box.value : undefined)).finally(() => {
      typing.dispose();
    });
  }

  /** Shows `input` in place of the step before's and resolves with what `accept` makes of the user's Enter. */
  private prompt<T>(
    input: vscode.QuickPick<vscode.QuickPickItem> | vscode.InputBox,
    accept: () => T | undefined,
  ): Promise<Answer<T>> {
    input.title = `Ollama Batch: ${this.title}`;
    input.step = this.step;
    input.totalSteps = this.totalSteps;
    input.ignoreFocusOut = STAY_OPEN.ignoreFocusOut;
    input.buttons = this.step > 1 ? [vscode.QuickInputButtons.Back] : [];
    const disposables: vscode.Disposable[] = [];
    return new Promise<Answer<T>>((resolve) => {
      disposables.push(
        input.onDidTriggerButton((button) => {
          if (button === vscode.QuickInputButtons.Back) resolve(BACK);
        }),
        input.onDidAccept(() => {
          const value = accept();
          if (value !== undefined) resolve(value);
        }),
        input.onDidHide(() => resolve(undefined)),
      );
      // Shown before the previous one goes: no flicker of the editor between two steps.
      const previous = this.current;
      this.current = input;
      input.show();
      previous?.dispose();
    }).finally(() => {
      for (const disposable of disposables) disposable.dispose();
    });
  }

  /** Closes the last prompt. */
  dispose(): void {
    this.current?.dispose();
    this.current = undefined;
  }
}

/** Runs the steps in order, Back going one step back; resolves true when the last one is done, false when given up. */
export async function runWizard(title: string, steps: readonly WizardStep[]): Promise<boolean> {
  const wizard = new Wizard(title, steps.length);
  try {
    for (let index = 0; index < steps.length;) {
      wizard.step = index + 1;
      const outcome = await steps[index]!(wizard);
      if (outcome === false) return false;
      index = outcome === BACK ? Math.max(0, index - 1) : index + 1;
    }
    return true;
  } finally {
    wizard.dispose();
  }
}
