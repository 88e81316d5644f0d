import { test, expect, Browser } from '@playwright/test';
import { BASE, newUser, unique } from './helpers';

/** A browser context signed in as the admin (ADMIN_USERNAME in playwright.config.ts). */
async function adminPage(browser: Browser) {
  const context = await browser.newContext({ baseURL: BASE });
  const login = await context.request.post('/api/auth/login', {
    data: { username: 'admin', password: 'admin-password-e2e' },
  });
  expect(login.status()).toBe(200);
  return { context, page: await context.newPage() };
}

test('room changes by an admin reach a user live, and a ban signs the user out', async ({ browser }) => {
  const admin = await adminPage(browser);
  const user = await newUser(browser, 'carla');
  await user.page.goto('/');
  await expect(user.page.getByTestId('connection')).toHaveText('Connected');
  const name = unique('news');

  await admin.page.goto('/admin/rooms');
  await admin.page.getByLabel('Name', { exact: true }).fill(name);
  await admin.page.getByLabel('Topic', { exact: true }).fill('Daily news');
  await admin.page.getByRole('button', { name: 'Create room' }).click();
  await expect(admin.page.getByRole('status')).toHaveText(`Room “${name}” created.`);

  // It appears live in the user's list; the user opens it and joins it.
  await user.page.getByRole('link', { name: `# ${name}` }).click();
  await expect(user.page.getByRole('heading', { level: 1 })).toHaveText(`# ${name}`);
  await user.page.getByRole('button', { name: 'Join room' }).click();
  await expect(user.page.getByTestId('connection')).toHaveText('Connected');

  // Renamed: the user's header changes live.
  const renamed = `${name}-x`;
  await admin.page.getByLabel(`Name of ${name}`).fill(renamed);
  await admin.page.locator(`tr[data-room="${name}"]`).getByRole('button', { name: 'Save' }).click();
  await expect(admin.page.getByRole('status')).toHaveText(`Room “${renamed}” saved.`);
  await expect(user.page.getByRole('heading', { level: 1 })).toHaveText(`# ${renamed}`);

  // Archived: the user's composer becomes read-only.
  await admin.page.getByRole('button', { name: `Archive ${renamed}` }).click();
  await expect(admin.page.getByRole('status')).toHaveText(`Room “${renamed}” archived.`);
  const composer = user.page.getByRole('textbox', { name: 'Message', exact: true });
  await expect(composer).toHaveAttribute('readonly', '');
  await expect(user.page.getByRole('button', { name: 'Send' })).toBeDisabled();

  // Banned (a second step confirms it): the user's page shows they were signed out.
  await admin.page.goto(`/admin/users?q=${user.name}`);
  await admin.page.getByText(`Ban ${user.name}…`).click();
  await admin.page.getByRole('button', { name: `Ban ${user.name}`, exact: true }).click();
  await expect(admin.page.getByRole('status')).toContainText(`${user.name} is now user, banned.`);
  await expect(user.page).toHaveURL(/\/login$/);
  await expect(user.page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});

test('banning a user asks first, and only the confirmation bans', async ({ browser }) => {
  const admin = await adminPage(browser);
  const user = await newUser(browser, 'erin');
  await admin.page.goto(`/admin/users?q=${user.name}`);
  const row = admin.page.getByRole('row', { name: new RegExp(user.name) });
  const ban = row.getByRole('button', { name: `Ban ${user.name}`, exact: true });

  // The first control only opens the question; the ban button is not there before it.
  await expect(ban).toBeHidden();
  await row.getByText(`Ban ${user.name}…`).click();
  await expect(row.getByText('Signs them out everywhere')).toBeVisible();
  const listed = await admin.context.request.get(`/api/admin/users`);
  const before = (await listed.json()).find((u: { username: string }) => u.username === user.name);
  expect(before.banned).toBe(false);
  await ban.click();

  await expect(admin.page.getByRole('status')).toContainText(`${user.name} is now user, banned.`);
  await expect(admin.page.getByRole('button', { name: `Unban ${user.name}`, exact: true })).toBeVisible();
});

test('deleting a room asks for its name', async ({ browser }) => {
  const admin = await adminPage(browser);
  const name = unique('doomed');
  const created = await admin.context.request.post('/api/admin/rooms', {
    data: { name }, headers: { Origin: BASE },
  });
  expect(created.status()).toBe(201);
  await admin.page.goto('/admin/rooms');
  const row = admin.page.locator(`tr[data-room="${name}"]`);

  await row.getByText('Delete…').click();
  await row.getByLabel(/Type .* to delete it/).fill('not the name');
  await row.getByRole('button', { name: `Delete ${name}` }).click();
  await expect(admin.page.getByRole('alert')).toContainText(`Type the room name “${name}” to confirm.`);
  await admin.page.locator(`tr[data-room="${name}"]`).getByText('Delete…').click();
  await admin.page.locator(`tr[data-room="${name}"]`).getByLabel(/Type .* to delete it/).fill(name);
  await admin.page.locator(`tr[data-room="${name}"]`).getByRole('button', { name: `Delete ${name}` }).click();

  await expect(admin.page.getByRole('status')).toHaveText(`Room “${name}” deleted.`);
  await expect(admin.page.locator(`tr[data-room="${name}"]`)).toHaveCount(0);
});

test('a normal user opening /admin gets no admin content', async ({ browser }) => {
  const user = await newUser(browser, 'dora');

  const response = await user.page.goto('/admin');

  expect(response?.status()).toBe(403);
  await expect(user.page.getByRole('heading', { name: 'Forbidden' })).toBeVisible();
  await expect(user.page.getByText('Connected sockets')).toHaveCount(0);
});

test('the dashboard shows how many sockets are connected, live', async ({ browser }) => {
  const admin = await adminPage(browser);
  await admin.page.goto('/admin');
  const sockets = admin.page.getByTestId('sockets');
  await expect(sockets).toHaveText(/^\d+$/);
  // Live figures come over the socket every two seconds; wait for a stable baseline.
  await expect.poll(async () => Number(await sockets.textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
  const before = Number(await sockets.textContent());

  const users = [await newUser(browser, 'n1'), await newUser(browser, 'n2'), await newUser(browser, 'n3')];
  for (const user of users) {
    await user.page.goto('/');
    await expect(user.page.getByTestId('connection')).toHaveText('Connected');
  }

  await expect(sockets).toHaveText(String(before + 3), { timeout: 10_000 });
  await expect(admin.page.getByTestId('users-online')).not.toHaveText('0');
  for (const user of users) {
    await user.context.close();
  }
  await expect(sockets).toHaveText(String(before), { timeout: 10_000 });
});
