import { test, expect } from '@playwright/test';
import { PASSWORD, unique } from './helpers';

test('the app hydrates and its socket connects with the session cookie', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('pageerror', (err) => errors.push(err.message));
  // The browser context shares page.request's cookies: this signs the browser in.
  const registered = await page.request.post('/api/auth/register', {
    data: { username: unique('home'), password: PASSWORD },
  });
  expect(registered.status()).toBe(201);

  await page.goto('/');

  // The app marks itself once hydrated: the server-rendered markup is not interactive before.
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await expect(page.getByTestId('connection')).toHaveText('Connected');
  // The session cookie is HttpOnly: page scripts never see the token.
  expect(await page.evaluate(() => document.cookie)).not.toContain('tagarela_session');
  expect(errors).toEqual([]);
});

test('without a session the app sends you to sign in', async ({ page }) => {
  await page.goto('/');

  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});

test('signing up in the form opens the chat; a taken name is shown inline', async ({ page }) => {
  const name = unique('form');
  await page.goto('/register');
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();

  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();

  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(page.getByText(name)).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/register');
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await page.getByLabel('Username').fill(name.toUpperCase());
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('alert')).toHaveText('That username is taken.');
});

test('a wrong password is shown inline on sign in', async ({ page }) => {
  await page.goto('/login');
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();

  await page.getByLabel('Username').fill('nobody-here');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
});

test('pages are served with a Content-Security-Policy that allows only our scripts', async ({ page }) => {
  const response = await page.goto('/login');

  const csp = response?.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self' 'nonce-");
  expect(csp).toContain("'wasm-unsafe-eval'");
  expect(csp).not.toContain('unsafe-inline');
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
});

test("an unknown page answers 404 with the app's page", async ({ page }) => {
  const response = await page.goto('/no/such/page');

  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
