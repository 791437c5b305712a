// tests/browser/seed.test.js — the npm architecture seed's interface, unchanged, in headless
// Chromium: the page runs tests/seed/seed-scenario.js (the same module tests/js/seed.test.js runs
// in Node) and its results are judged in Node by tests/seed/judge.js.

import { test } from 'node:test';
import { newPage, useBrowser, within } from './harness.js';
import { judgeSeed } from '../seed/judge.js';

let browser;
let server;

useBrowser((b, s) => { browser = b; server = s; });

test("the seed's interface runs unchanged in a page", { timeout: 60_000 }, async () => {
  const ctx = await browser.newContext();
  try {
    const { page, log } = await newPage(ctx, server);
    const out = await within(30_000, 'seed scenario', page.evaluate(async () => {
      const veclite = await import('/web/index.js');
      const { seedScenario } = await import('/tests/seed/seed-scenario.js');
      return seedScenario(veclite);
    }));
    judgeSeed(out, { indexedDb: true });
    if (log.errors.length) throw new Error(log.errors.join('\n'));
  } finally {
    await ctx.close();
  }
});
