import { test, expect } from '@playwright/test';
import { BASE, createRoom, messages, newUser, openRoom, say, unique } from './helpers';

test('the chat is usable at 360 px wide', async ({ browser }) => {
  const room = await createRoom(unique('narrow'));
  const ana = await newUser(browser, 'ana');
  await ana.page.setViewportSize({ width: 360, height: 740 });

  await openRoom(ana.page, room);
  await say(ana.page, 'from a phone');

  await expect(messages(ana.page)).toHaveText(['from a phone']);
  await expect(ana.page.getByRole('textbox', { name: 'Message', exact: true })).toBeInViewport();
  const overflow = await ana.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test('older messages load when scrolling up, without a jump', async ({ browser }) => {
  const room = await createRoom(unique('history'));
  const ana = await newUser(browser, 'ana');
  await openRoom(ana.page, room);
  for (let i = 0; i < 80; i++) {
    const sent = await ana.page.request.post(`/api/rooms/${room}/messages`, {
      data: { text: `old ${i}` }, headers: { Origin: BASE },
    });
    expect(sent.status()).toBe(201);
  }
  await ana.page.reload();
  await expect(messages(ana.page).last()).toHaveText('old 79');
  await expect(messages(ana.page)).toHaveCount(50);
  const firstShown = messages(ana.page).first();
  await expect(firstShown).toHaveText('old 30');

  await ana.page.locator('.messages').evaluate((el) => el.scrollTo(0, 0));

  await expect(messages(ana.page)).toHaveCount(80);
  await expect(messages(ana.page).first()).toHaveText('old 0');
  // The message that was on top is still in view: the list did not jump to the new top.
  await expect(messages(ana.page).filter({ hasText: /^old 30$/ })).toBeInViewport();
});

test('a new message while scrolled up shows a pill instead of jumping', async ({ browser }) => {
  const room = await createRoom(unique('pill'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(ana.page, room);
  await openRoom(bob.page, room);
  for (let i = 0; i < 40; i++) {
    await ana.page.request.post(`/api/rooms/${room}/messages`, { data: { text: `filler ${i}` }, headers: { Origin: BASE } });
  }
  await expect(messages(bob.page)).toHaveCount(40);
  await bob.page.locator('.messages').evaluate((el) => el.scrollTo(0, 0));

  await say(ana.page, 'look down');

  const pill = bob.page.getByRole('button', { name: 'New messages ↓' });
  await expect(pill).toBeVisible();
  await expect(bob.page.locator('.messages li.message', { hasText: 'look down' })).not.toBeInViewport();
  await pill.click();
  await expect(bob.page.locator('.messages li.message', { hasText: 'look down' })).toBeInViewport();
});

test('unread counts follow the read marker across tabs', async ({ browser }) => {
  const here = await createRoom(unique('here'));
  const there = await createRoom(unique('there'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(ana.page, there);
  await openRoom(ana.page, here);
  const otherTab = await ana.context.newPage();
  await openRoom(otherTab, here);
  await openRoom(bob.page, there);

  await say(bob.page, `hello @${ana.name}`);

  for (const tab of [ana.page, otherTab]) {
    const link = tab.locator('.room-link', { hasText: /there/ });
    await expect(link.getByLabel('1 unread')).toBeVisible();
    await expect(link.locator('.mention-badge')).toHaveText('@1');
  }
  await ana.page.locator('.room-link', { hasText: /there/ }).click();
  await expect(messages(ana.page)).toHaveText([`hello @${ana.name}`]);
  await expect(ana.page.locator('.mention.me')).toHaveText(`@${ana.name}`);
  // The other tab hears the new read marker and clears its badges.
  await expect(otherTab.locator('.room-link', { hasText: /there/ }).locator('.badge')).toHaveCount(0);
});

test('changing the password signs out the other sessions', async ({ browser }) => {
  const ana = await newUser(browser, 'ana');
  const elsewhere = await browser.newContext({ baseURL: BASE });
  const login = await elsewhere.request.post('/api/auth/login', { data: { username: ana.name, password: 'correct horse battery' } });
  expect(login.status()).toBe(200);
  const other = await elsewhere.newPage();
  await other.goto('/');
  await expect(other.getByTestId('connection')).toHaveText('Connected');

  await ana.page.goto('/settings');
  await expect(ana.page.locator('[data-hydrated="true"]')).toBeAttached();
  await ana.page.getByLabel('Current password').fill('correct horse battery');
  await ana.page.getByLabel('New password').fill('a brand new password');
  await ana.page.getByRole('button', { name: 'Change password' }).click();

  await expect(ana.page.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();
  await expect(other).toHaveURL(/\/login$/);
});

test('deleting a message asks first', async ({ browser }) => {
  const room = await createRoom(unique('sure'));
  const ana = await newUser(browser, 'ana');
  await openRoom(ana.page, room);
  await say(ana.page, 'keep me');
  await expect(messages(ana.page)).toHaveText(['keep me']);
  const row = ana.page.getByRole('listitem').filter({ hasText: 'keep me' });

  await row.hover();
  await row.getByRole('button', { name: 'Delete message' }).click();
  await expect(row.getByText('Delete this message?')).toBeVisible();
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row.getByRole('button', { name: 'Yes, delete' })).toHaveCount(0);
  await expect(messages(ana.page)).toHaveText(['keep me']);
  await ana.page.reload();
  await expect(messages(ana.page)).toHaveText(['keep me']);

  await row.hover();
  await row.getByRole('button', { name: 'Delete message' }).click();
  await row.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(messages(ana.page)).toHaveText(['Message deleted']);
});

test('the tab title counts unread messages', async ({ browser }) => {
  const reading = await createRoom(unique('reading'));
  const waitingName = unique('waiting');
  const waiting = await createRoom(waitingName);
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(ana.page, waiting);
  await openRoom(ana.page, reading);
  await openRoom(bob.page, waiting);
  await expect(ana.page).toHaveTitle('Tagarela');

  for (const text of ['one', 'two', 'three']) {
    await say(bob.page, text);
  }

  await expect(ana.page).toHaveTitle('(3) Tagarela');
  await ana.page.locator('.room-link', { hasText: waitingName }).click();
  await expect(messages(ana.page)).toHaveText(['one', 'two', 'three']);
  await expect(ana.page).toHaveTitle('Tagarela');
});

test('a message shows its exact date and time when pointed at', async ({ browser }) => {
  const room = await createRoom(unique('when'));
  const ana = await newUser(browser, 'ana');
  await openRoom(ana.page, room);
  await say(ana.page, 'first');
  await say(ana.page, 'second');
  await expect(messages(ana.page)).toHaveText(['first', 'second']);
  const year = String(new Date().getFullYear());

  // The first of a group shows its time; the next one, under the same name, when pointed at.
  for (const text of ['first', 'second']) {
    const row = ana.page.getByRole('listitem').filter({ hasText: text });
    await row.hover();
    const time = row.locator('time');
    await expect(time).toBeVisible();
    const title = await time.getAttribute('title');
    expect(title).toContain(year);
    expect(title).toMatch(/\d{1,2}:\d{2}:\d{2}/);
    // The same instant as the machine-readable time beside it.
    const datetime = await time.getAttribute('datetime');
    const expected = await ana.page.evaluate((iso) => new Date(iso!).toLocaleString('default', { dateStyle: 'full', timeStyle: 'medium' }), datetime);
    expect(title).toBe(expected);
  }
});

test("a room's draft survives switching rooms", async ({ browser }) => {
  const one = unique('one');
  const two = unique('two');
  const first = await createRoom(one);
  const second = await createRoom(two);
  const ana = await newUser(browser, 'ana');
  await openRoom(ana.page, second);
  await openRoom(ana.page, first);
  const box = ana.page.getByRole('textbox', { name: 'Message', exact: true });

  await box.fill('half a thought');
  await ana.page.locator('.room-link', { hasText: two }).click();
  await expect(ana.page.getByRole('heading', { level: 1 })).toHaveText(`# ${two}`);
  await expect(box).toHaveValue('');
  await box.fill('another thought');
  await ana.page.locator('.room-link', { hasText: one }).click();

  await expect(ana.page.getByRole('heading', { level: 1 })).toHaveText(`# ${one}`);
  await expect(box).toHaveValue('half a thought');
  await ana.page.locator('.room-link', { hasText: two }).click();
  await expect(box).toHaveValue('another thought');
  // Sent, it is no longer a draft.
  await box.press('Enter');
  await expect(messages(ana.page)).toHaveText(['another thought']);
  await ana.page.locator('.room-link', { hasText: one }).click();
  await ana.page.locator('.room-link', { hasText: two }).click();
  await expect(box).toHaveValue('');
});
