// The web client end to end, in Debian's Chromium driven by playwright-core, against a running
// service that serves the built client (`TODO_URL`, e.g. http://127.0.0.1:3000): ann shares a list
// with bob, both work on it, ann sees bob's changes and the activity, demotes bob to viewer, then
// revokes him. `scripts/test-web` starts the service and runs this.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';

const BASE = (process.env.TODO_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = new URL('./screenshots/', import.meta.url).pathname;
const VIEWPORT = { width: 1280, height: 800 };
const ANN = 'ann@example.com';
const BOB = 'bob@example.com';
// Plain names on a fresh service; on one with data from earlier runs, names of this run's own.
let LIST = 'Trip to Lisbon';
let READING = 'Reading list';

async function devToken(email) {
  const response = await fetch(`${BASE}/dev/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  assert.equal(response.status, 200, `POST /dev/token: ${response.status}`);
  return (await response.json()).id_token;
}

/** A call to the API as `email`, outside the browser. */
async function call(email, method, path, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${await devToken(email)}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

let browser;
let ann;
let bob;
/** What the pages said on the console that a working page never says. */
const problems = [];

async function signIn(email) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`[${email}] page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Uncaught|Warning:/.test(message.text())) problems.push(`[${email}] ${message.text()}`);
  });
  await page.goto(`${BASE}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('signed-in-as').filter({ hasText: email }).waitFor();
  return page;
}

/** Polls `check` until it returns a truthy value (or `timeout` ms pass, then fails with `what`). */
async function until(what, check, timeout = 15_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) assert.fail(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}${name}.png` });
}

const alerts = (page) => page.getByRole('alert');

async function alertText(page) {
  return (await alerts(page).allInnerTexts()).join('\n');
}

async function dismissAll(page) {
  const buttons = page.getByRole('button', { name: 'Dismiss message' });
  while ((await buttons.count()) > 0) await buttons.first().click();
}

const todo = (page, title) => page.getByRole('checkbox', { name: title, exact: true });
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A list's entry in the lists panel: its name, then the caller's role. */
const listLink = (page, name) => page.getByRole('link', { name: new RegExp(`^${escape(name)} (owner|editor|viewer)$`) });

async function addTodo(page, title) {
  await page.getByLabel('New todo').fill(title);
  await page.getByRole('button', { name: 'Add todo' }).click();
  await todo(page, title).waitFor();
}

/** Runs a step; on failure, screenshots of both users' pages to look at. */
function step(name, body) {
  it(name, async () => {
    try {
      await body();
    } catch (error) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      for (const [who, page] of [['ann', ann], ['bob', bob]]) {
        if (page) await shot(page, `failed-${slug}-${who}`).catch(() => {});
      }
      throw error;
    }
  });
}

describe('todo web client', () => {
  before(async () => {
    await mkdir(SHOTS, { recursive: true });
    const { items } = await call(ANN, 'GET', '/lists');
    if (items.length > 0) {
      const run = Date.now().toString(36);
      LIST = `${LIST} ${run}`;
      READING = `${READING} ${run}`;
    } else {
      // A fresh service: two more lists of ann's, for a lists panel that looks lived in.
      for (const name of ['Groceries', 'Weekend chores']) await call(ANN, 'POST', '/lists', { name });
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
  });

  step('ann signs in and creates a list with todos', async () => {
    ann = await signIn(ANN);
    await shot(ann, '01-ann-signed-in');
    await ann.getByLabel('New list name').fill(LIST);
    await ann.getByRole('button', { name: 'Create list' }).click();
    await ann.getByRole('heading', { level: 2, name: LIST }).waitFor();
    assert.match(await listLink(ann, LIST).innerText(), /owner/);
    for (const title of ['Book flights', 'Reserve hotel', 'Buy a guidebook', 'Pack sunscreen', 'Renew passport']) {
      await addTodo(ann, title);
    }
  });

  step('ann marks one done, edits one and deletes one', async () => {
    await todo(ann, 'Book flights').click();
    await until('Book flights checked', () => todo(ann, 'Book flights').isChecked());

    await ann.getByRole('button', { name: 'Edit Buy a guidebook' }).click();
    await ann.getByLabel('Title of “Buy a guidebook”').fill('Buy a Lisbon guidebook');
    await ann.getByRole('button', { name: 'Save', exact: true }).click();
    await todo(ann, 'Buy a Lisbon guidebook').waitFor();

    await ann.getByRole('button', { name: 'Delete Renew passport' }).click();
    await todo(ann, 'Renew passport').waitFor({ state: 'detached' });
    assert.equal(await ann.getByRole('list', { name: 'Todos' }).getByRole('listitem').count(), 4);
  });

  step('ann shares the list with bob as editor', async () => {
    await ann.getByLabel('Share by email').fill(BOB);
    await ann.getByLabel('Role', { exact: true }).selectOption('editor');
    await ann.getByRole('button', { name: 'Share', exact: true }).click();
    const role = ann.getByLabel(`Role of ${BOB}`);
    await role.waitFor();
    assert.equal(await role.inputValue(), 'editor');
  });

  step('API errors are shown in words', async () => {
    // The owner cannot share the list with themselves: the service's 409, in the alert region.
    await ann.getByLabel('Share by email').fill(ANN);
    await ann.getByRole('button', { name: 'Share', exact: true }).click();
    await until('the share error', async () => /Could not share the list with ann@example\.com: .+/.test(await alertText(ann)));
    // A name of blanks passes the form but not the service (400).
    await ann.getByLabel('New list name').fill('   ');
    await ann.getByRole('button', { name: 'Create list' }).click();
    await until('the create error', async () => /Could not create the list: name must be 1-200 characters/.test(await alertText(ann)));
    await shot(ann, '02-ann-api-errors');
    await dismissAll(ann);
    await ann.getByLabel('Share by email').fill('');
    await ann.getByLabel('New list name').fill('');
  });

  step('bob signs in, sees the list as editor, adds a todo and completes one', async () => {
    bob = await signIn(BOB);
    const link = listLink(bob, LIST);
    await link.waitFor();
    assert.match(await link.innerText(), /editor/);
    await link.click();
    await bob.getByRole('heading', { level: 2, name: LIST }).waitFor();
    await todo(bob, 'Reserve hotel').waitFor();
    await addTodo(bob, 'Find a fado bar');
    await todo(bob, 'Reserve hotel').click();
    await until('Reserve hotel checked for bob', () => todo(bob, 'Reserve hotel').isChecked());
    // Bob is no owner: no sharing form, no usage, no list actions.
    assert.equal(await bob.getByLabel('Share by email').count(), 0);
    assert.equal(await bob.getByRole('heading', { name: 'Usage' }).count(), 0);
    assert.equal(await bob.getByRole('button', { name: 'Delete list' }).count(), 0);
    await shot(bob, '03-bob-editor');
  });

  step("ann sees bob's todo, his change and the activity", async () => {
    await until("bob's todo on ann's page", () => todo(ann, 'Find a fado bar').isVisible());
    await until("bob's completion on ann's page", () => todo(ann, 'Reserve hotel').isChecked());
    const activity = ann.getByRole('list', { name: 'Activity' });
    await until('the activity entries', async () => {
      const text = await activity.innerText();
      return (
        text.includes(`${BOB} added “Find a fado bar”`) &&
        text.includes(`${BOB} completed “Reserve hotel”`) &&
        text.includes(`You shared the list with ${BOB}`) &&
        text.includes('You completed “Book flights”')
      );
    });
  });

  step('the usage panel shows the requests, with its chart', async () => {
    const requests = ann.getByTestId('usage-requests');
    await until('non-zero requests', async () => Number((await requests.innerText()).replace(/\D/g, '')) > 0);
    // A few samples, for a chart worth looking at.
    const chart = ann.getByRole('img', { name: /^Requests over the last/ });
    await until('a few usage samples', async () => (await chart.locator('rect').count()) >= 8, 20_000);
    await dismissAll(ann);
    await ann.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    await shot(ann, '04-ann-list');
  });

  step('a change made elsewhere first is a 412: bob is told and sees the todo reloaded', async () => {
    // Bob's feed must not refresh his todos before he clicks: hold his activity back.
    await bob.route('**/lists/*/activity', (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: '{"items":[]}' }),
    );
    try {
      await todo(ann, 'Pack sunscreen').click();
      await until('Pack sunscreen checked for ann', () => todo(ann, 'Pack sunscreen').isChecked());
      assert.equal(await todo(bob, 'Pack sunscreen').isChecked(), false);
      await todo(bob, 'Pack sunscreen').click();
      await until('the conflict note', async () => /“Pack sunscreen” was changed elsewhere/.test(await alertText(bob)));
      await until('the reloaded todo', () => todo(bob, 'Pack sunscreen').isChecked());
      await shot(bob, '05-bob-conflict');
    } finally {
      await bob.unroute('**/lists/*/activity');
    }
  });

  step('a viewer sees no edit controls', async () => {
    await ann.getByLabel(`Role of ${BOB}`).selectOption('viewer');
    await until('bob shown as viewer', async () => (await ann.getByLabel(`Role of ${BOB}`).inputValue()) === 'viewer');
    await bob.reload();
    await bob.getByRole('heading', { level: 2, name: LIST }).waitFor();
    await todo(bob, 'Find a fado bar').waitFor();
    assert.match(await listLink(bob, LIST).innerText(), /viewer/);
    assert.equal(await bob.getByLabel('New todo').count(), 0);
    assert.equal(await bob.getByRole('button', { name: 'Add todo' }).count(), 0);
    assert.equal(await bob.getByRole('button', { name: /^Edit / }).count(), 0);
    assert.equal(await bob.getByRole('button', { name: /^Delete / }).count(), 0);
    for (const box of await bob.getByRole('list', { name: 'Todos' }).getByRole('checkbox').all()) {
      assert.equal(await box.isDisabled(), true);
    }
    await shot(bob, '06-bob-viewer');
  });

  step('ann revokes bob, and bob loses the list', async () => {
    await ann.getByRole('button', { name: `Remove ${BOB}` }).click();
    await ann.getByLabel(`Role of ${BOB}`).waitFor({ state: 'detached' });
    // Bob's open list polls its activity: the next poll's 404 closes it.
    await until('the list closed on bob’s page', async () => /is no longer available/.test(await alertText(bob)));
    assert.equal(await bob.getByRole('heading', { level: 2, name: LIST }).count(), 0);
    assert.equal(await listLink(bob, LIST).count(), 0);
    await shot(bob, '07-bob-revoked');
    // And after a reload it is not among his lists.
    await bob.reload();
    await bob.getByRole('heading', { name: 'Your lists' }).waitFor();
    await until('bob’s lists loaded', async () => !(await bob.getByText('Loading…').isVisible()));
    assert.equal(await listLink(bob, LIST).count(), 0);
  });

  step('long lists page with Load more; owners rename and delete lists', async () => {
    // 25 todos through the API, as ann.
    const name = READING;
    const list = await call(ANN, 'POST', '/lists', { name });
    for (let i = 1; i <= 25; i++) await call(ANN, 'POST', `/lists/${list.id}/todos`, { title: `Book ${i}` });

    await ann.getByRole('button', { name: 'Refresh lists' }).click();
    await listLink(ann, name).click();
    await todo(ann, 'Book 20').waitFor();
    const items = ann.getByRole('list', { name: 'Todos' }).getByRole('listitem');
    assert.equal(await items.count(), 20);
    await ann.getByRole('button', { name: 'Load more' }).click();
    await todo(ann, 'Book 25').waitFor();
    assert.equal(await items.count(), 25);
    assert.equal(await ann.getByRole('button', { name: 'Load more' }).count(), 0);

    await ann.getByRole('button', { name: 'Rename list' }).click();
    await ann.getByLabel('List name', { exact: true }).fill(`${name} (done)`);
    await ann.getByRole('button', { name: 'Save name' }).click();
    await ann.getByRole('heading', { level: 2, name: `${name} (done)` }).waitFor();
    await listLink(ann, `${name} (done)`).waitFor();

    await ann.getByRole('button', { name: 'Delete list' }).click();
    await ann.getByRole('button', { name: 'Delete for good' }).click();
    await until('the list deleted', async () => (await listLink(ann, `${name} (done)`).count()) === 0);
    assert.equal(await ann.getByRole('heading', { level: 2, name }).count(), 0);
  });

  step('a token the service refuses signs ann out with a note', async () => {
    await ann.evaluate(() => sessionStorage.setItem('todo.idToken', 'not.a.token'));
    await ann.reload();
    await ann.getByText('Your session has ended; sign in again.').waitFor();
    await ann.getByLabel('Email').waitFor();
    await shot(ann, '08-ann-session-ended');
  });

  step('sign out', async () => {
    await bob.getByRole('button', { name: 'Sign out' }).click();
    await bob.getByRole('heading', { name: 'Sign in' }).waitFor();
    await bob.reload();
    await bob.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  step('no page error and no content security policy violation', async () => {
    assert.deepEqual(problems, []);
  });
});
