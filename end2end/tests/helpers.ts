import { APIRequestContext, Browser, BrowserContext, Page, expect, request } from '@playwright/test';

export const PASSWORD = 'correct horse battery';
export const BASE = `http://127.0.0.1:${process.env.E2E_PORT ?? 3123}`;

/** A username no other test uses. */
export function unique(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** The admin (ADMIN_USERNAME in playwright.config.ts), as an API client with a bearer token. */
export async function admin(): Promise<APIRequestContext> {
  const anonymous = await request.newContext({ baseURL: BASE });
  const login = await anonymous.post('/api/auth/login', {
    data: { username: 'admin', password: 'admin-password-e2e' },
  });
  expect(login.status()).toBe(200);
  const { token } = await login.json();
  await anonymous.dispose();
  return request.newContext({ baseURL: BASE, extraHTTPHeaders: { Authorization: `Bearer ${token}` } });
}

/** Creates a room as the admin and returns its id. */
export async function createRoom(name: string): Promise<number> {
  const api = await admin();
  const response = await api.post('/api/admin/rooms', { data: { name, topic: `About ${name}` } });
  expect(response.status()).toBe(201);
  const room = await response.json();
  await api.dispose();
  return room.id;
}

/** A new browser context signed up as a new user (the session cookie is in the context). */
export async function newUser(browser: Browser, prefix: string): Promise<{ context: BrowserContext; page: Page; name: string }> {
  const context = await browser.newContext({ baseURL: BASE });
  const name = unique(prefix);
  const response = await context.request.post('/api/auth/register', { data: { username: name, password: PASSWORD } });
  expect(response.status()).toBe(201);
  const page = await context.newPage();
  return { context, page, name };
}

/** The message box of the open room. */
export function composer(page: Page) {
  return page.getByRole('textbox', { name: 'Message', exact: true });
}

/**
 * Opens `room` and waits until the page is hydrated and connected; then, unless `join` is false,
 * joins the room if the user is not in it yet (opening a room never joins it).
 */
export async function openRoom(page: Page, room: number, { join = true } = {}): Promise<void> {
  await page.goto(`/rooms/${room}`);
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('#');
  if (!join) return;
  const joinButton = page.getByRole('button', { name: 'Join room' });
  await expect(composer(page).or(joinButton)).toBeVisible();
  if (await joinButton.isVisible()) {
    await joinButton.click();
    await expect(composer(page)).toBeVisible();
  }
}

/** Whether the user of `page` is a member of `room`, as the server says. */
export async function isMember(page: Page, room: number): Promise<boolean> {
  const response = await page.request.get('/api/rooms');
  expect(response.status()).toBe(200);
  const rooms: { id: number; member: boolean }[] = await response.json();
  return rooms.find((r) => r.id === room)?.member ?? false;
}

/** Cuts `page`'s connection for real: blocks new Socket.IO requests and closes the open WebSocket. */
export async function cuttable(page: Page) {
  let cut = false;
  const open: { close: () => Promise<void> }[] = [];
  await page.route('**/socket.io/**', (route) => (cut ? route.abort() : route.continue()));
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (cut) {
      ws.close();
      return;
    }
    ws.connectToServer();
    open.push(ws);
  });
  return {
    async cut() {
      cut = true;
      await Promise.all(open.splice(0).map((ws) => ws.close()));
    },
    restore() {
      cut = false;
    },
  };
}

/** Types and sends a message with Enter. */
export async function say(page: Page, text: string): Promise<void> {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

/** The message texts shown in the open room, in order. */
export function messages(page: Page) {
  return page.locator('.messages li.message:not(.pending) .text');
}
