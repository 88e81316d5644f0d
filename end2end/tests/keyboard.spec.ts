import { test, expect } from '@playwright/test';
import { composer, createRoom, messages, newUser, openRoom, say, unique } from './helpers';

test('edit and delete are named buttons the keyboard reaches and works', async ({ browser }) => {
  const room = await createRoom(unique('keys'));
  const ana = await newUser(browser, 'ana');
  const { page } = ana;
  await openRoom(page, room);
  await say(page, 'first words');
  await expect(messages(page)).toHaveText(['first words']);
  await expect(page.locator('.pending')).toHaveCount(0);
  const row = page.getByRole('listitem').filter({ has: page.getByRole('group', { name: 'Message actions' }) });
  const actions = row.getByRole('group', { name: 'Message actions' });
  const edit = row.getByRole('button', { name: 'Edit message' });
  const del = row.getByRole('button', { name: 'Delete message' });

  // Backwards from the composer, the message's actions take the focus, and show.
  await composer(page).focus();
  await page.keyboard.press('Shift+Tab');
  await expect(del).toBeFocused();
  await expect(actions).toHaveCSS('opacity', '1');
  await page.keyboard.press('Shift+Tab');
  await expect(edit).toBeFocused();

  // Enter opens the edit box with the focus in it; Enter saves, and the focus comes back.
  await page.keyboard.press('Enter');
  const box = page.getByRole('textbox', { name: 'Edit message' });
  await expect(box).toBeFocused();
  await expect(box).toHaveValue('first words');
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type('second words');
  await page.keyboard.press('Enter');
  await expect(messages(page)).toHaveText(['second words (edited)']);
  await expect(edit).toBeFocused();

  // Escape cancels an edit.
  await page.keyboard.press('Enter');
  await expect(box).toBeFocused();
  await page.keyboard.type(' and more');
  await page.keyboard.press('Escape');
  await expect(box).toHaveCount(0);
  await expect(messages(page)).toHaveText(['second words (edited)']);
  await expect(edit).toBeFocused();

  // Delete asks first, with the focus on the safe answer; Escape keeps the message.
  await page.keyboard.press('Tab');
  await expect(del).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(row.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(del).toBeFocused();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  await expect(row.getByRole('button', { name: 'Yes, delete' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(messages(page)).toHaveText(['Message deleted']);
});

test('Up in an empty composer edits your last message', async ({ browser }) => {
  const room = await createRoom(unique('up'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(ana.page, room);
  await openRoom(bob.page, room);
  await say(ana.page, 'one');
  await say(ana.page, 'two');
  await expect(messages(bob.page)).toHaveText(['one', 'two']);
  await say(bob.page, 'from bob');
  await expect(messages(ana.page)).toHaveText(['one', 'two', 'from bob']);

  await composer(ana.page).focus();
  await ana.page.keyboard.press('ArrowUp');

  const box = ana.page.getByRole('textbox', { name: 'Edit message' });
  await expect(box).toBeFocused();
  await expect(box).toHaveValue('two');
  await ana.page.keyboard.type(', three');
  await ana.page.keyboard.press('Enter');
  await expect(messages(bob.page)).toHaveText(['one', 'two, three (edited)', 'from bob']);
  // The edit started in the composer: the focus goes back there.
  await expect(composer(ana.page)).toBeFocused();
  // With text in it, Up is left to the text box.
  await ana.page.keyboard.type('draft');
  await ana.page.keyboard.press('ArrowUp');
  await expect(box).toHaveCount(0);
  await expect(composer(ana.page)).toBeFocused();
});
