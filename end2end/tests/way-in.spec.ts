import { test, expect, APIRequestContext, Browser, BrowserContext, Page } from '@playwright/test';
import { BASE, PASSWORD, unique } from './helpers';

/** Signs a new account up over the API (no cookie kept) and returns its name. */
async function account(request: APIRequestContext): Promise<string> {
  const name = unique('way');
  const r = await request.post('/api/auth/register', { data: { username: name, password: PASSWORD } });
  expect(r.status()).toBe(201);
  return name;
}

/** A browser context with a new account that is signed out, and a page in it. */
async function signedOut(browser: Browser): Promise<{ context: BrowserContext; page: Page; name: string }> {
  const context = await browser.newContext();
  const name = await account(context.request);
  await context.clearCookies();
  return { context, page: await context.newPage(), name };
}

/** Fills the sign-in form and submits it. */
async function signIn(page: Page, name: string, password: string = PASSWORD): Promise<void> {
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an anonymous visit to the chat is redirected by the server at once', async ({ playwright }) => {
  const anonymous = await playwright.request.newContext({ baseURL: BASE });

  for (const path of ['/', '/rooms/1', '/settings']) {
    const response = await anonymous.get(path, { maxRedirects: 0 });
    expect(response.status(), path).toBe(303);
    expect(response.headers()['location'], path).toBe('/login');
  }
  await anonymous.dispose();
});

test('sent from the chat to sign in, signing in lands in the chat', async ({ browser }) => {
  const { context, page, name } = await signedOut(browser);

  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await signIn(page, name);

  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(page).not.toHaveURL(/\/login/);
  await expect(page.getByText(name)).toBeVisible();
  await context.close();
});

test('sent to sign in, creating an account from there lands in the chat', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await page.getByRole('link', { name: 'Create an account' }).click();
  await expect(page).toHaveURL(/\/register$/);

  const name = unique('way');
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();

  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(page.getByText(name)).toBeVisible();
});

test('signing out and back in within one tab lands in the chat', async ({ browser }) => {
  const context = await browser.newContext();
  const name = await account(context.request);
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByTestId('connection')).toHaveText('Connected');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.locator('[data-hydrated="true"]')).toBeAttached();
  await signIn(page, name);

  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(page.getByText(name)).toBeVisible();
  await context.close();
});

test('before the app has loaded, the sign-in form posts and the password stays out of the URL', async ({ browser }) => {
  const { context, page, name } = await signedOut(browser);
  // A slow link, to the extreme: the WebAssembly never arrives.
  await page.route('**/*.wasm', (route) => route.abort());
  const requested: string[] = [];
  page.on('request', (r) => requested.push(`${r.method()} ${r.url()}`));

  await page.goto('/login');
  await signIn(page, name);
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));

  expect(requested.filter((r) => r.includes(PASSWORD.split(' ')[0]))).toEqual([]);
  expect(requested).toContain(`POST ${BASE}/login`);
  const cookies = await context.cookies();
  expect(cookies.some((c) => c.name === 'tagarela_session' && c.value.length > 0)).toBe(true);
  // The server renders the chat for the signed-in visitor.
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await context.close();
});

test('a wrong password in the form posted before the app loads comes back as an error', async ({ browser }) => {
  const { context, page, name } = await signedOut(browser);
  await page.route('**/*.wasm', (route) => route.abort());

  await page.goto('/login');
  await signIn(page, name, 'not the password');

  await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
  await expect(page.getByLabel('Username')).toHaveValue(name);
  expect(page.url()).not.toContain('not%20the');
  expect(page.url()).not.toContain('password=');
  await context.close();
});

test('the sign-in page says what Tagarela is', async ({ page }) => {
  await page.goto('/login');

  await expect(page.getByText('Tagarela', { exact: true })).toBeVisible();
  await expect(page.getByText(/chat your team hosts itself/)).toBeVisible();
});
