import { test, expect } from '@playwright/test';
import { composer, createRoom, isMember, messages, newUser, openRoom, say, unique } from './helpers';

test('a room left shows a Join button in place of the composer, and opening it does not join it', async ({ browser }) => {
  const name = unique('left');
  const lobbyName = unique('lobby');
  const room = await createRoom(name);
  const lobby = await createRoom(lobbyName);
  const ana = await newUser(browser, 'ana');
  await openRoom(ana.page, lobby);
  await openRoom(ana.page, room);
  await say(ana.page, 'before leaving');
  await expect(messages(ana.page)).toHaveText(['before leaving']);

  await ana.page.getByRole('button', { name: 'Leave' }).click();

  const join = ana.page.getByRole('button', { name: 'Join room' });
  await expect(join).toBeVisible();
  await expect(composer(ana.page)).toHaveCount(0);
  await expect(messages(ana.page)).toHaveText(['before leaving']);
  const otherRooms = ana.page.getByRole('list', { name: 'Other rooms' });
  await expect(otherRooms.getByRole('link', { name: `# ${name}` })).toBeVisible();
  expect(await isMember(ana.page, room)).toBe(false);

  // Opened again from the list, it shows its messages and the Join button, and stays left.
  await ana.page.getByRole('list', { name: 'Your rooms' }).getByRole('link', { name: `# ${lobbyName}` }).click();
  await expect(ana.page.getByRole('heading', { level: 1 })).toHaveText(`# ${lobbyName}`);
  await otherRooms.getByRole('link', { name: `# ${name}` }).click();
  await expect(ana.page.getByRole('heading', { level: 1 })).toHaveText(`# ${name}`);
  await expect(messages(ana.page)).toHaveText(['before leaving']);
  await expect(join).toBeVisible();
  await expect(composer(ana.page)).toHaveCount(0);
  // So does a reload, which used to join it again without asking.
  await ana.page.reload();
  await expect(ana.page.locator('[data-hydrated="true"]')).toBeAttached();
  await expect(messages(ana.page)).toHaveText(['before leaving']);
  await expect(join).toBeVisible();
  expect(await isMember(ana.page, room)).toBe(false);

  await join.click();

  await expect(composer(ana.page)).toBeFocused();
  await say(ana.page, 'back again');
  await expect(messages(ana.page)).toHaveText(['before leaving', 'back again']);
  await expect(ana.page.getByRole('list', { name: 'Your rooms' }).getByRole('link', { name: `# ${name}` })).toBeVisible();
  expect(await isMember(ana.page, room)).toBe(true);
});

test('a room never joined opens with its messages and a Join button', async ({ browser }) => {
  const name = unique('visit');
  const room = await createRoom(name);
  const lobby = await createRoom(unique('lobby'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(bob.page, room);
  await say(bob.page, 'anyone here?');
  await expect(messages(bob.page)).toHaveText(['anyone here?']);
  await openRoom(ana.page, lobby);

  await ana.page.getByRole('list', { name: 'Other rooms' }).getByRole('link', { name: `# ${name}` }).click();

  await expect(ana.page.getByRole('heading', { level: 1 })).toHaveText(`# ${name}`);
  await expect(messages(ana.page)).toHaveText(['anyone here?']);
  await expect(composer(ana.page)).toHaveCount(0);
  expect(await isMember(ana.page, room)).toBe(false);
  await ana.page.getByRole('button', { name: 'Join room' }).click();
  await say(ana.page, 'I am');
  await expect(messages(bob.page)).toHaveText(['anyone here?', 'I am']);
});

test('leaving a room can be undone', async ({ browser }) => {
  const name = unique('undo');
  const room = await createRoom(name);
  const ana = await newUser(browser, 'ana');
  await openRoom(ana.page, room);

  await ana.page.getByRole('button', { name: 'Leave' }).click();

  await expect(ana.page.getByRole('status').filter({ hasText: `You left # ${name}.` })).toBeVisible();
  await expect(composer(ana.page)).toHaveCount(0);
  await ana.page.getByRole('button', { name: 'Undo' }).click();
  await expect(composer(ana.page)).toBeVisible();
  await expect(ana.page.getByRole('status').filter({ hasText: 'You left' })).toHaveCount(0);
  expect(await isMember(ana.page, room)).toBe(true);
});
