// Driving VS Code's workbench (code-server in Chromium) the way a user does: the command palette,
// quick picks, the simple file dialog of the web workbench, notifications and webviews. Every
// wait is on the workbench's own elements; none sleeps.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Matches an element whose whole text is `text`. */
const exactly = (text: string): RegExp => new RegExp(`^\\s*${escape(text)}\\s*$`);

export class Workbench {
  private shot = 0;

  constructor(
    readonly page: Page,
    private readonly screenshots: string,
  ) {
    // This run's screenshots only.
    rmSync(screenshots, { recursive: true, force: true });
    mkdirSync(screenshots, { recursive: true });
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
  }

  /** test-output/e2e/NN-name.png */
  async screenshot(name: string): Promise<void> {
    const file = `${String(++this.shot).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
    await this.page.screenshot({ path: join(this.screenshots, file) });
  }

  private get quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  private get quickInputBox(): Locator {
    return this.quickInput.locator('.quick-input-box input');
  }

  /** The row of the open quick input whose label is exactly `label`. */
  quickPickRow(label: string): Locator {
    return this.quickInput
      .locator('.monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exactly(label) }) });
  }

  /** F1, the command's full title ("Category: Title"), then its row. */
  async runCommand(title: string): Promise<void> {
    // The palette may not list a command the extension host has just registered: reopen it.
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('F1');
      await this.quickInputBox.fill(`>${title}`);
      const row = this.quickPickRow(title);
      try {
        await row.waitFor({ timeout: 15_000 });
        await row.click();
        return;
      } catch (error) {
        await this.page.keyboard.press('Escape');
        if (attempt === 3) throw error;
      }
    }
  }

  /** The palette, filtered to `text`; the caller looks at its rows and closes it with Escape. */
  async openPalette(text: string): Promise<void> {
    await this.page.keyboard.press('F1');
    await this.quickInputBox.fill(`>${text}`);
  }

  /**
   * Waits until the open palette lists each command title: each is typed in full, since the
   * list renders only the rows that fit. Leaves the palette filtered to `shown`.
   */
  async paletteLists(titles: readonly string[], shown: string, timeout: number): Promise<void> {
    for (const title of titles) {
      await this.quickInputBox.fill(`>${title}`);
      await this.quickPickRow(title).waitFor({ timeout });
    }
    await this.quickInputBox.fill(`>${shown}`);
  }

  /** Opens a workspace file by name through Quick Open. */
  async openFile(name: string): Promise<void> {
    await this.page.keyboard.press('F1');
    await this.quickInputBox.fill(name);
    await this.quickPickRow(name).first().click();
    await this.page.locator(`.tabs-container .tab[aria-label^="${name}"]`).waitFor();
  }

  /** The row of the open quick pick that mentions `text` (a pick with a placeholder has no title). */
  quickPickRowWith(text: string): Locator {
    return this.quickInput.locator('.monaco-list-row', { hasText: text }).first();
  }

  /** Moves the focus into the visible webview, as the workbench does when the palette closes over one. */
  async focusWebview(): Promise<void> {
    await this.page.locator('iframe.webview.ready:visible').focus();
  }

  /** Picks the quick pick row labelled `label` once the quick input titled `title` shows. */
  async pick(title: string | RegExp, label: string): Promise<void> {
    await this.quickInput.locator('.quick-input-title', { hasText: title }).waitFor();
    await this.quickPickRow(label).click();
  }

  /** The web workbench's file dialog (a quick input listing a folder): clicks the file `name`. */
  async chooseFile(title: string | RegExp, name: string): Promise<void> {
    const dialog = this.quickInput.locator('.quick-input-title', { hasText: title });
    await dialog.waitFor();
    // Not typed into its box: the dialog rewrites the box while it lists the folder.
    await this.quickPickRow(name).click();
    await dialog.waitFor({ state: 'hidden' });
  }

  /** A modal dialog's button. */
  async clickDialogButton(name: string | RegExp): Promise<void> {
    await this.page.locator('.monaco-dialog-box').getByRole('button', { name }).click();
  }

  /** A notification toast with this text. */
  notification(text: string | RegExp): Locator {
    return this.page.locator('.notifications-toasts .notification-toast').filter({ hasText: text });
  }

  /** The content of the webview panel whose tab is titled `tabTitle` (webviews nest two iframes). */
  async webview(tabTitle: string | RegExp, timeout?: number): Promise<FrameLocator> {
    await this.page.locator('.tabs-container .tab.active', { hasText: tabTitle }).waitFor({ timeout });
    return this.page
      .locator('iframe.webview.ready:visible')
      .contentFrame()
      .locator('iframe#active-frame')
      .contentFrame();
  }

  /**
   * Opens the walkthrough titled `title` (again: it is one editor) and waits for its steps' ticks
   * to read `expected`, by the step ids' last part.
   */
  async walkthroughTicks(title: string, expected: Record<string, boolean>): Promise<void> {
    // Its tab first, where open: F1 does not reach the palette from a webview that has the focus.
    const tab = this.page.locator('.tabs-container .tab', { hasText: 'Welcome' });
    if ((await tab.count()) > 0) await tab.click();
    await this.runCommand('Welcome: Open Walkthrough...');
    await this.quickPickRowWith(title).click();
    for (const [step, done] of Object.entries(expected))
      await this.page
        .locator(`button.getting-started-step[data-step-id$="#${step}"][aria-checked="${done}"]`)
        .waitFor({ timeout: 30_000 });
  }

  /** The rows of the trees in the side bar (a view alone in its container has no header to find it by). */
  sideBarRows(): Locator {
    return this.page.locator('.part.sidebar .monaco-list-row');
  }
}
