// Drives the teledesk Mini App in headless Chromium the way a person on a phone would.
// Run from the repository root: `node tests/browser/miniapp.mjs` (the Rust test sets the inputs
// below as environment variables). Prints one line `RESULT {...}` on success, exits 1 on failure.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const REQUIRED = [
  'APP_URL', 'LAUNCH_OK', 'LAUNCH_OK_DARK', 'LAUNCH_FORGED', 'LAUNCH_STALE', 'LAUNCH_OTHER_CHAT',
  'UPLOAD_FILE', 'SUBJECT', 'DESCRIPTION', 'COMPANY', 'CLOSED_SUBJECT', 'SCREENSHOT_DIR',
  // The chat's intake: a category, a required contract number (a bad one first), a choice; the
  // closed ticket's category; an English-speaking launch for the list's words.
  'CATEGORY', 'CONTRACT_BAD', 'CONTRACT_GOOD', 'CHOICE', 'CLOSED_CATEGORY', 'LAUNCH_EN',
];
const missing = REQUIRED.filter((name) => !process.env[name]);
if (missing.length) {
  console.error(`miniapp: missing environment variables: ${missing.join(', ')}`);
  process.exit(1);
}
const env = Object.fromEntries(REQUIRED.map((name) => [name, process.env[name]]));
const APP_URL = env.APP_URL.replace(/#.*$/, '');
const GLOBAL_TIMEOUT_MS = 90_000;
const FAIL_MESSAGE = 'Сервис временно недоступен (тестовый отказ)';

// The mobile clients' bridge: the app posts through TelegramWebviewProxy and is answered through
// window.Telegram.WebView.receiveEvent, which the app itself defines when it loads.
const FAKE_BRIDGE = () => {
  window.__events = [];
  window.TelegramWebviewProxy = {
    postEvent(type, data) {
      window.__events.push([type, data]);
      if (type === 'web_app_request_write_access') {
        setTimeout(() => window.Telegram.WebView.receiveEvent('write_access_requested', { status: 'allowed' }), 50);
      }
    },
  };
};

let current = 'start';
let browser = null;
const problems = [];
const screenshots = [];

function fail(message) {
  throw new Error(message);
}

async function closeBrowser() {
  if (!browser) return;
  const b = browser;
  browser = null;
  await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
}

const timer = setTimeout(async () => {
  console.error(`miniapp: step "${current}" failed: global timeout of ${GLOBAL_TIMEOUT_MS / 1000} s`);
  await closeBrowser();
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);

async function step(name, fn) {
  current = name;
  console.error(`miniapp: ${name}`);
  return fn();
}

// Polls `fn` until it returns a truthy value.
async function until(what, fn, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) fail(`timed out waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function watch(page, label) {
  page.on('pageerror', (err) => problems.push(`${label}: uncaught ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) problems.push(`${label}: ${msg.text()}`);
  });
}

async function shot(page, name) {
  const file = path.resolve(env.SCREENSHOT_DIR, name);
  await page.screenshot({ path: file, fullPage: true });
  screenshots.push(file);
}

function submissionIdOf(body) {
  if (!body) return null;
  const m = /name="submission_id"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n/.exec(body.toString('latin1'));
  return m ? m[1] : null;
}

const isTicketsPost = (req) => req.method() === 'POST' && new URL(req.url()).pathname.endsWith('/api/app/tickets');

async function visible(page, testid, timeout = 10_000) {
  await page.getByTestId(testid).first().waitFor({ state: 'visible', timeout });
}

// An element by id (intake ids contain a dot, which a CSS #selector would read as a class).
const byId = (page, id) => page.locator(`[id="${id}"]`);

// The chips of the list row whose subject contains `subject`.
async function chipsOf(page, subject) {
  const row = page.getByTestId('ticket-row').filter({ hasText: subject }).first();
  await row.waitFor();
  return {
    priority: await row.getByTestId('ticket-priority').allInnerTexts(),
    category: await row.getByTestId('ticket-category').allInnerTexts(),
  };
}

async function expectFatal(context, launch, label) {
  const page = await context.newPage();
  watch(page, label);
  await page.goto(launch === null ? APP_URL : `${APP_URL}#${launch}`);
  await visible(page, 'fatal');
  const text = (await page.getByTestId('fatal').innerText()).trim();
  if (!text) fail(`${label}: the fatal screen is empty`);
  if (await page.getByTestId('form').isVisible()) fail(`${label}: the form is shown next to the fatal screen`);
  return page;
}

async function main() {
  fs.mkdirSync(env.SCREENSHOT_DIR, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const contextOptions = {
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'ru-RU',
  };
  const context = await browser.newContext(contextOptions);
  context.setDefaultTimeout(10_000);
  await context.addInitScript(FAKE_BRIDGE);
  const page = await context.newPage();
  watch(page, 'main page');
  const events = () => page.evaluate(() => window.__events.slice());

  await step('open the form', async () => {
    await page.goto(`${APP_URL}#${env.LAUNCH_OK}`);
    await visible(page, 'form');
    await until('web_app_ready to be posted', async () => (await events()).some(([type]) => type === 'web_app_ready'));
    await visible(page, 'write-access');
    await visible(page, 'write-access-allow');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 390) fail(`the page scrolls horizontally (${width}px wide)`);
    await shot(page, 'miniapp-form.png');
  });

  await step('allow the bot to write', async () => {
    await page.getByTestId('write-access-allow').click();
    await until('the write-access notice to say notifications are on', async () =>
      (await page.getByTestId('write-access-allow').count()) === 0
      && (await page.getByTestId('write-access').innerText()).includes('✓'));
    if (!(await events()).some(([type]) => type === 'web_app_request_write_access')) {
      fail('web_app_request_write_access was not posted');
    }
  });

  await step('refuse a disallowed file', async () => {
    await page.getByTestId('files').setInputFiles({
      name: 'tool.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ\x90\x00not really a program'),
    });
    await visible(page, 'file-error');
    if ((await page.getByTestId('file-item').count()) !== 0) fail('tool.exe was added to the file list');
  });

  await step('fill the form', async () => {
    await page.getByTestId('company').selectOption({ label: env.COMPANY });
    await page.getByTestId('category').selectOption({ label: env.CATEGORY });
    await page.getByTestId('field.contract').fill(env.CONTRACT_BAD);
    await page.getByTestId('field.area').selectOption({ label: env.CHOICE });
    await page.getByTestId('subject').fill(env.SUBJECT);
    await page.getByTestId('description').fill(env.DESCRIPTION);
    await page.getByTestId('files').setInputFiles(env.UPLOAD_FILE);
    await until('one file in the list', async () => (await page.getByTestId('file-item').count()) === 1);
    const name = await page.getByTestId('file-item').innerText();
    if (!name.includes(path.basename(env.UPLOAD_FILE))) fail(`the file row shows «${name}»`);
  });

  // Every POST of the form goes through a route, which (unlike the request event) sees multipart
  // bodies with files; the first one is answered with a 503.
  const posts = [];
  let failedId = null;
  await page.route((url) => url.pathname.endsWith('/api/app/tickets'), async (route) => {
    const req = route.request();
    if (!isTicketsPost(req)) return route.continue();
    const id = submissionIdOf(req.postDataBuffer());
    posts.push(id);
    if (failedId !== null) return route.continue();
    failedId = id || '';
    return route.fulfill({
      status: 503,
      contentType: 'application/json',
      body: JSON.stringify({ error: 'unavailable', message: FAIL_MESSAGE, field: null }),
    });
  });

  await step('a failed submission keeps the form', async () => {
    await page.getByTestId('submit').click();
    await until('the server message in form-error', async () =>
      (await page.getByTestId('form-error').innerText()).includes(FAIL_MESSAGE));
    if (!failedId) fail('the failed POST carried no submission_id');
    if ((await page.getByTestId('subject').inputValue()) !== env.SUBJECT) fail('the subject was lost');
    if ((await page.getByTestId('description').inputValue()) !== env.DESCRIPTION) fail('the description was lost');
    if ((await page.getByTestId('company').inputValue()) !== env.COMPANY) fail('the company was lost');
    if ((await page.getByTestId('field.contract').inputValue()) !== env.CONTRACT_BAD) fail('the contract number was lost');
    const category = await page.getByTestId('category').evaluate((s) => s.selectedOptions[0].label);
    if (category !== env.CATEGORY) fail(`the category was lost: «${category}»`);
    if ((await page.getByTestId('file-item').count()) !== 1) fail('the file was lost');
    if (await page.getByTestId('submit').isDisabled()) fail('the submit button stays disabled after the failure');
  });

  await step('the server refuses a bad contract number next to its field', async () => {
    const sent = posts.length;
    await page.getByTestId('submit').click();
    const error = byId(page, 'field.contract-error');
    const message = await until('the server\'s retry message under the contract field', async () => {
      const text = (await error.innerText()).trim();
      return text && text;
    });
    // The bot's own retry wording: it names the expected format with the example.
    if (!message.includes(env.CONTRACT_GOOD)) fail(`the retry message does not name the example: «${message}»`);
    if (!(await page.getByTestId('form-error').innerText()).includes(message)) fail('the form error does not repeat it');
    if ((await page.getByTestId('field.contract').getAttribute('aria-invalid')) !== 'true') fail('the contract field is not marked invalid');
    if (posts.length !== sent + 1) fail(`the refusal came from ${posts.length - sent} POSTs, not from the server once`);
    if (posts[sent] !== failedId) fail('the submission_id changed after the failure');
    await shot(page, 'miniapp-intake-refused.png');
    await page.getByTestId('field.contract').fill(env.CONTRACT_GOOD);
    await until('the field error to clear once corrected', async () => !(await error.innerText()).trim());
  });

  let number = null;
  let postUrl = null;
  await step('a double tap sends once and the ticket is created', async () => {
    const sent = posts.length;
    await page.getByTestId('submit').dblclick();
    await visible(page, 'success', 40_000);
    number = (await page.getByTestId('success-number').innerText()).trim();
    if (!number || number === '…') fail(`success-number is «${number}»`);
    const link = page.getByTestId('success-open-post');
    postUrl = (await link.isVisible()) ? await link.getAttribute('href') : null;
    const after = posts.slice(sent);
    if (after.length !== 1) fail(`expected one POST for the double tap, saw ${after.length}`);
    if (after.some((id) => id !== failedId)) fail(`the retry changed the submission_id: ${failedId} → ${after.join(', ')}`);
    await shot(page, 'miniapp-success.png');
  });

  if (postUrl && /^https:\/\/t\.me\//.test(postUrl)) {
    await step('the open-ticket button goes through the bridge', async () => {
      const before = page.url();
      await page.getByTestId('success-open-post').click();
      const want = new URL(postUrl).pathname + new URL(postUrl).search;
      await until('web_app_open_tg_link', async () => (await events()).some(([type, data]) =>
        type === 'web_app_open_tg_link' && JSON.parse(data).path_full === want));
      if (page.url() !== before || context.pages().length !== 1) fail('the link navigated instead of using the bridge');
    });
  }

  await step('open tickets', async () => {
    await page.getByTestId('tab-open').click();
    await page.getByTestId('ticket-row').filter({ hasText: env.SUBJECT }).first().waitFor();
    const row = page.getByTestId('ticket-row').filter({ hasText: env.SUBJECT }).first();
    if ((await row.getAttribute('data-done')) !== 'false') fail('the new ticket is not open');
    const chips = await chipsOf(page, env.SUBJECT);
    if (chips.category.join() !== `Категория: ${env.CATEGORY}`) fail(`the new ticket's category chip: ${JSON.stringify(chips)}`);
    if (chips.priority.length) fail(`the new ticket has no priority, yet shows ${JSON.stringify(chips)}`);
    await shot(page, 'miniapp-open.png');
  });

  await step('the last 20 tickets strike the closed one through', async () => {
    await page.getByTestId('tab-last').click();
    await visible(page, 'last-limit-20');
    await Promise.all([
      page.waitForResponse((res) => res.url().includes('/api/app/tickets') && res.url().includes('limit=20')),
      page.getByTestId('last-limit-20').click(),
    ]);
    const row = page.getByTestId('ticket-row').filter({ hasText: env.CLOSED_SUBJECT }).first();
    await row.waitFor();
    if ((await row.getAttribute('data-done')) !== 'true') fail(`«${env.CLOSED_SUBJECT}» is not data-done="true"`);
    const struck = await row.evaluate((el, subject) => [el, ...el.querySelectorAll('*')].some((node) =>
      node.textContent.includes(subject) && getComputedStyle(node).textDecorationLine.includes('line-through')),
    env.CLOSED_SUBJECT);
    if (!struck) fail(`«${env.CLOSED_SUBJECT}» is not struck through`);
    const chips = await chipsOf(page, env.CLOSED_SUBJECT);
    if (chips.priority.join() !== 'Приоритет: ASAP' || chips.category.join() !== `Категория: ${env.CLOSED_CATEGORY}`) {
      fail(`the closed ticket's chips: ${JSON.stringify(chips)}`);
    }
    await shot(page, 'miniapp-lists.png');
  });

  await step('the list speaks the user\'s language', async () => {
    const en = await context.newPage();
    watch(en, 'english page');
    await en.goto(`${APP_URL}#${env.LAUNCH_EN}`);
    await visible(en, 'form');
    await en.getByTestId('tab-last').click();
    const chips = await chipsOf(en, env.CLOSED_SUBJECT);
    if (chips.priority.join() !== 'Priority: ASAP' || chips.category.join() !== `Category: ${env.CLOSED_CATEGORY}`) {
      fail(`the closed ticket's chips in English: ${JSON.stringify(chips)}`);
    }
    await en.close();
  });

  await step('search finds by words, filters and sorts', async () => {
    await page.getByTestId('tab-find').click();
    await visible(page, 'find-q');
    const rows = page.getByTestId('ticket-row');
    const subjects = async () => (await rows.allInnerTexts()).map((text) =>
      (text.includes(env.CLOSED_SUBJECT) ? 'closed' : text.includes(env.SUBJECT) ? 'new' : 'other'));
    // Everything, oldest first: the closed ticket was filed first.
    await page.getByTestId('find-sort').selectOption('oldest');
    await until('both tickets, oldest first', async () => (await subjects()).join() === 'closed,new');
    await page.getByTestId('find-sort').selectOption('newest');
    await until('both tickets, newest first', async () => (await subjects()).join() === 'new,closed');
    // A word of the closed one's subject, among the closed only.
    await page.getByTestId('filter-closed').click();
    await page.getByTestId('find-q').fill(env.CLOSED_SUBJECT.split(' ').pop());
    await until('the closed ticket alone', async () => (await subjects()).join() === 'closed');
    const count = await page.getByTestId('find-count').innerText();
    if (!/\b1\b/.test(count)) fail(`the count says «${count}»`);
    await shot(page, 'miniapp-search.png');
    // The open one is not among the closed: nothing found.
    await page.getByTestId('find-q').fill(env.SUBJECT.split(' ').pop());
    await visible(page, 'ticket-empty');
    await page.getByTestId('filter-all').click();
  });

  await step('the tabs follow the keyboard', async () => {
    await page.getByTestId('tab-last').focus();
    await page.keyboard.press('Home');
    await until('tab-new selected', async () => (await page.getByTestId('tab-new').getAttribute('aria-selected')) === 'true');
    await page.keyboard.press('ArrowRight');
    await until('tab-open selected', async () => (await page.getByTestId('tab-open').getAttribute('aria-selected')) === 'true');
  });

  await step('dark theme', async () => {
    const dark = await context.newPage();
    watch(dark, 'dark page');
    await dark.goto(`${APP_URL}#${env.LAUNCH_OK_DARK}`);
    await visible(dark, 'form');
    await shot(dark, 'miniapp-form-dark.png');
    const lum = await dark.evaluate(() => {
      const m = getComputedStyle(document.body).backgroundColor.match(/[\d.]+/g).map(Number);
      const lin = (c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * lin(m[0]) + 0.7152 * lin(m[1]) + 0.0722 * lin(m[2]);
    });
    if (!(lum < 0.3)) fail(`the dark theme's background is not dark (luminance ${lum.toFixed(3)})`);
    await dark.close();
  });

  await step('a forged launch is refused', async () => {
    const p = await expectFatal(context, env.LAUNCH_FORGED, 'forged launch');
    await shot(p, 'miniapp-fatal.png');
    await p.close();
  });
  await step('a stale launch is refused', async () => (await expectFatal(context, env.LAUNCH_STALE, 'stale launch')).close());
  await step('a chat that is not served is refused', async () =>
    (await expectFatal(context, env.LAUNCH_OTHER_CHAT, 'other chat')).close());
  await step('outside Telegram there is no form', async () => {
    const plain = await browser.newContext(contextOptions);
    await expectFatal(plain, null, 'no launch data');
    await plain.close();
  });

  if (problems.length) {
    current = 'page errors';
    fail(problems.join('\n'));
  }
  return { number, post_url: postUrl, submission_id: failedId, screenshots };
}

let exitCode = 0;
try {
  const result = await main();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
} catch (err) {
  console.error(`miniapp: step "${current}" failed: ${err && err.message ? err.message : err}`);
  exitCode = 1;
} finally {
  clearTimeout(timer);
  await closeBrowser();
}
process.exit(exitCode);
