import { test, expect, Browser } from '@playwright/test';
import { createRoom, cuttable, messages, newUser, openRoom, say, unique } from './helpers';

test('two users in one room see each other live, in order, once', async ({ browser }) => {
  const room = await createRoom(unique('live'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(ana.page, room);
  await openRoom(bob.page, room);

  await say(ana.page, 'Olá, Bob!');
  await expect(messages(bob.page)).toHaveText(['Olá, Bob!']);
  await say(bob.page, 'Hi Ana');
  await say(bob.page, 'How are you?');

  for (const page of [ana.page, bob.page]) {
    await expect(messages(page)).toHaveText(['Olá, Bob!', 'Hi Ana', 'How are you?']);
  }
});

test('typing and presence appear for the other user', async ({ browser }) => {
  const room = await createRoom(unique('presence'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(ana.page, room);

  await openRoom(bob.page, room);
  await ana.page.locator('.online summary').click();
  await expect(ana.page.getByRole('list', { name: 'Online' })).toContainText(bob.name);
  await bob.page.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('hel');

  await expect(ana.page.getByText(`${bob.name} is typing…`)).toBeVisible();
  await bob.context.close();
  await expect(ana.page.getByRole('list', { name: 'Online' })).not.toContainText(bob.name);
});

test('text is shown as text and links open safely', async ({ browser }) => {
  const room = await createRoom(unique('safe'));
  const ana = await newUser(browser, 'ana');
  await openRoom(ana.page, room);

  await say(ana.page, '<img src=x onerror=alert(1)> see https://example.org/page');

  await expect(messages(ana.page).first()).toContainText('<img src=x onerror=alert(1)>');
  const link = ana.page.getByRole('link', { name: 'https://example.org/page' });
  await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
  await expect(ana.page.locator('.messages img')).toHaveCount(0);
});

test('a lost connection loses nothing and duplicates nothing', async ({ browser }) => {
  const room = await createRoom(unique('flaky'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  const network = await cuttable(ana.page);
  await openRoom(ana.page, room);
  await openRoom(bob.page, room);
  await say(bob.page, 'before the cut');
  await expect(messages(ana.page)).toHaveText(['before the cut']);

  await network.cut();
  await expect(ana.page.getByTestId('connection')).toHaveText('Reconnecting…');
  await say(ana.page, 'ana offline 1');
  await say(ana.page, 'ana offline 2');
  await expect(ana.page.locator('.pending')).toHaveCount(2);
  for (const text of ['bob 1', 'bob 2', 'bob 3']) {
    await say(bob.page, text);
  }
  await expect(messages(bob.page)).toHaveText(['before the cut', 'bob 1', 'bob 2', 'bob 3']);
  const first = bob.page.locator('.messages li.message', { hasText: 'bob 1' });
  await first.hover();
  await first.getByRole('button', { name: 'Edit' }).click();
  await bob.page.getByLabel('Edit message').fill('bob 1, edited');
  await bob.page.getByRole('button', { name: 'Save' }).click();
  await expect(messages(bob.page).nth(1)).toContainText('bob 1, edited');
  network.restore();

  await expect(ana.page.getByTestId('connection')).toHaveText('Connected', { timeout: 30_000 });
  const expected = ['before the cut', 'bob 1, edited (edited)', 'bob 2', 'bob 3', 'ana offline 1', 'ana offline 2'];
  await expect(messages(ana.page)).toHaveText(expected);
  await expect(ana.page.locator('.pending')).toHaveCount(0);
  await expect(messages(bob.page)).toHaveText(expected);
  // A reload shows what the server stored: still each message once.
  await ana.page.reload();
  await expect(messages(ana.page)).toHaveText(expected);
});

test('a message typed while offline survives a page reload and is sent once', async ({ browser }) => {
  const room = await createRoom(unique('reload'));
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  const network = await cuttable(ana.page);
  await openRoom(ana.page, room);
  await openRoom(bob.page, room);

  await network.cut();
  await expect(ana.page.getByTestId('connection')).toHaveText('Reconnecting…');
  await say(ana.page, 'typed offline');
  await expect(ana.page.locator('.pending')).toHaveCount(1);
  network.restore();
  await ana.page.reload();

  await expect(messages(bob.page)).toHaveText(['typed offline']);
  await expect(messages(ana.page)).toHaveText(['typed offline']);
  await expect(ana.page.locator('.pending')).toHaveCount(0);
});

/**
 * Bob has said 'before' in a new room; ana, connected over WebSocket from another room, opens it
 * and joins it.
 * Every frame the server sends ana goes through `onFrame` first: it is forwarded when that
 * resolves to true. `isJoinAnswer` marks the answer to her joinRoom of that room (an ack carrying
 * the room's name and "online"); `cut` closes her connection on both sides. Returns once ana has
 * clicked Join.
 */
async function openRoomThrough(
  browser: Browser,
  onFrame: (frame: string, isJoinAnswer: boolean, cut: () => void) => Promise<boolean> | boolean,
) {
  const lobby = await createRoom(unique('lobby'));
  const roomName = unique('loading');
  const room = await createRoom(roomName);
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  await openRoom(bob.page, room);
  await say(bob.page, 'before');
  await expect(messages(bob.page)).toHaveText(['before']);

  let upgraded = false;
  await ana.page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => {
      if (frame === '5') upgraded = true;
      server.send(frame);
    });
    const cut = () => {
      void ws.close();
      void server.close();
    };
    server.onMessage(async (frame) => {
      const text = typeof frame === 'string' ? frame : '';
      const isJoinAnswer = /^43\d+\[/.test(text) && text.includes('"online"') && text.includes(`"${roomName}"`);
      if (await onFrame(text, isJoinAnswer, cut)) ws.send(frame);
    });
  });
  // Start elsewhere so that the socket is on WebSocket before the room is opened.
  await openRoom(ana.page, lobby);
  await expect.poll(() => upgraded).toBe(true);
  await ana.page.locator('.room-link', { hasText: roomName }).click();
  await ana.page.getByRole('button', { name: 'Join room' }).click();
  return { ana, bob };
}

test('a message sent while a room is loading is shown, once', async ({ browser }) => {
  // The server joins ana's socket to the room, then reads the history: a message sent in
  // between reaches her live before the history does. Force that order by holding back the
  // answer to her joinRoom until bob's live message has gone by.
  let holding = false;
  let liveSeen = false;
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const { ana, bob } = await openRoomThrough(browser, async (text, isJoinAnswer) => {
    if (isJoinAnswer) {
      holding = true;
      await released;
    }
    if (text.includes('during the load')) liveSeen = true;
    return true;
  });
  await expect.poll(() => holding).toBe(true);
  await say(bob.page, 'during the load');
  await expect.poll(() => liveSeen).toBe(true);
  release();

  await expect(messages(ana.page)).toHaveText(['before', 'during the load']);
  await say(bob.page, 'after');
  await expect(messages(ana.page)).toHaveText(['before', 'during the load', 'after']);
});

test('a room still loading when the connection drops loads after the reconnect', async ({ browser }) => {
  // The answer to ana's joinRoom is lost with her connection: once the socket reconnects, the
  // page must ask again.
  let dropped = false;
  const { ana } = await openRoomThrough(browser, (_text, isJoinAnswer, cut) => {
    if (!isJoinAnswer || dropped) return true;
    dropped = true;
    cut();
    return false;
  });
  await expect.poll(() => dropped).toBe(true);

  await expect(messages(ana.page)).toHaveText(['before']);
  await expect(ana.page.getByTestId('connection')).toHaveText('Connected');
  // The lost request failed when the connection dropped: not an error to show the user.
  await expect(ana.page.getByRole('alert').filter({ hasText: /\w/ })).toHaveCount(0);
});
