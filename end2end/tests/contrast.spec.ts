import { test, expect, Browser, Page } from '@playwright/test';
import { BASE, composer, createRoom, cuttable, messages, newUser, openRoom, say, unique } from './helpers';

/** A piece of text whose colour is below WCAG AA on what it is drawn on. */
type LowContrast = { text: string; element: string; fg: string; bg: string; ratio: number; needed: number };

/**
 * Every piece of visible text on the page (text nodes, form values, placeholders) checked against
 * WCAG 2.x AA: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). The colours are the
 * computed ones: the text's colour, faded by its own and its ancestors' opacity, over the
 * ancestors' background colours laid on each other down to the first opaque one. Disabled
 * controls are exempt, as WCAG exempts inactive user interface components.
 */
async function lowContrast(page: Page): Promise<{ checked: number; found: LowContrast[] }> {
  return page.evaluate(() => {
    type Rgba = [number, number, number, number];
    const parse = (value: string): Rgba => {
      let m = value.match(/^rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)$/);
      if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
      // What color-mix() computes to.
      m = value.match(/^color\(srgb ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)(?: \/ ([\d.]+))?\)$/);
      if (m) return [Number(m[1]) * 255, Number(m[2]) * 255, Number(m[3]) * 255, m[4] === undefined ? 1 : Number(m[4])];
      throw new Error(`a colour this check cannot read: ${value}`);
    };
    const over = (top: Rgba, bottom: Rgba): Rgba => {
      const a = top[3];
      return [top[0] * a + bottom[0] * (1 - a), top[1] * a + bottom[1] * (1 - a), top[2] * a + bottom[2] * (1 - a), 1];
    };
    const luminance = ([r, g, b]: Rgba) => {
      const channel = (c: number) => {
        const s = Math.min(255, Math.max(0, c)) / 255;
        return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const ratioOf = (a: Rgba, b: Rgba) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const hex = (c: Rgba) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
    const backgroundOf = (el: Element): Rgba => {
      const layers: Rgba[] = [];
      for (let e: Element | null = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      let bg: Rgba = [255, 255, 255, 1];
      for (const layer of layers.reverse()) bg = over(layer, bg);
      return bg;
    };
    const opacityOf = (el: Element) => {
      let o = 1;
      for (let e: Element | null = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
      return o;
    };
    const shown = (el: Element) => {
      const rect = el.getBoundingClientRect();
      // Larger than the 1 px of text kept for screen readers only.
      return rect.width > 1 && rect.height > 1 && el.checkVisibility({ visibilityProperty: true, checkVisibilityCSS: true }) && opacityOf(el) > 0;
    };

    const found: LowContrast[] = [];
    let checked = 0;
    const check = (el: Element, text: string, colour: string) => {
      if (!shown(el) || el.closest('button:disabled, input:disabled, textarea:disabled, fieldset:disabled')) return;
      checked += 1;
      const style = getComputedStyle(el);
      const bg = backgroundOf(el);
      const fg = parse(colour);
      const fgShown = over([fg[0], fg[1], fg[2], fg[3] * opacityOf(el)], bg);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const needed = large ? 3 : 4.5;
      const ratio = ratioOf(fgShown, bg);
      if (ratio < needed) {
        const element = el.tagName.toLowerCase() + (el.className ? `.${String(el.className).trim().split(/\s+/).join('.')}` : '');
        found.push({ text: text.trim().slice(0, 40), element, fg: hex(fgShown), bg: hex(bg), ratio: Math.round(ratio * 100) / 100, needed });
      }
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || !node.textContent?.trim() || el.closest('script, style, template, option')) continue;
      check(el, node.textContent, getComputedStyle(el).color);
    }
    for (const field of document.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input:not([type=hidden]), textarea')) {
      if (field.value) check(field, field.value, getComputedStyle(field).color);
      else if (field.placeholder) check(field, field.placeholder, getComputedStyle(field, '::placeholder').color);
    }
    return { checked, found };
  });
}

/** Checks the page as it is now, in the light and in the dark scheme; failures are collected. */
async function expectReadable(page: Page, what: string) {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const { checked, found } = await lowContrast(page);
    expect.soft(found, `${what}, ${colorScheme} scheme: text below WCAG AA`).toEqual([]);
    // Not passing by finding nothing to check.
    expect.soft(checked, `${what}: texts checked`).toBeGreaterThan(0);
  }
  await page.emulateMedia({ colorScheme: null });
}

async function adminPage(browser: Browser) {
  const context = await browser.newContext({ baseURL: BASE });
  const login = await context.request.post('/api/auth/login', {
    data: { username: 'admin', password: 'admin-password-e2e' },
  });
  expect(login.status()).toBe(200);
  return { context, page: await context.newPage() };
}

test('every text colour meets WCAG AA on its background, light and dark', async ({ browser }) => {
  // Many screens, each walked twice.
  test.slow();
  const busy = await createRoom(unique('busy'));
  const quiet = await createRoom(unique('quiet'));
  const archived = await createRoom(unique('shelved'));
  await createRoom(unique('elsewhere'));
  const admin = await adminPage(browser);
  const ana = await newUser(browser, 'ana');
  const bob = await newUser(browser, 'bob');
  const network = await cuttable(ana.page);
  await openRoom(ana.page, archived);
  const shelved = await admin.context.request.patch(`/api/admin/rooms/${archived}`, {
    data: { archived: true }, headers: { Origin: BASE },
  });
  expect(shelved.status()).toBe(200);
  await openRoom(ana.page, quiet);
  await openRoom(ana.page, busy);
  await openRoom(bob.page, quiet);
  await say(bob.page, `psst @${ana.name}`);
  await openRoom(bob.page, busy);

  // The chat: own and others' messages, mentions (of ana, and of someone else), a link, an
  // edit, a deletion, unread and mention badges, every section of the room list.
  await say(bob.page, `hello @${ana.name}, see https://example.org`);
  await say(ana.page, `hi @${bob.name}`);
  await say(ana.page, 'a typo');
  await say(ana.page, 'to delete');
  await expect(messages(ana.page)).toHaveCount(4);
  const typo = ana.page.getByRole('listitem').filter({ hasText: 'a typo' });
  await typo.hover();
  await typo.getByRole('button', { name: 'Edit message' }).click();
  await ana.page.getByRole('textbox', { name: 'Edit message' }).fill('no typo');
  await ana.page.keyboard.press('Enter');
  const doomed = ana.page.getByRole('listitem').filter({ hasText: 'to delete' });
  await doomed.hover();
  await doomed.getByRole('button', { name: 'Delete message' }).click();
  await doomed.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(messages(ana.page)).toHaveText([
    `hello @${ana.name}, see https://example.org`, `hi @${bob.name}`, 'no typo (edited)', 'Message deleted',
  ]);
  await expect(ana.page.locator('.room-link .mention-badge')).toHaveText('@1');
  await ana.page.locator('.online summary').click();
  await expect(ana.page.getByRole('list', { name: 'Online' })).toContainText(bob.name);
  await expectReadable(ana.page, 'the chat');
  // Pointed at: the message's background and its actions show.
  await ana.page.getByRole('listitem').filter({ hasText: `hello @${ana.name}` }).hover();
  await expectReadable(ana.page, 'a message pointed at');
  const own = ana.page.getByRole('listitem').filter({ hasText: `hi @${bob.name}` });
  await own.hover();
  await own.getByRole('button', { name: 'Delete message' }).click();
  await expect(own.getByRole('button', { name: 'Yes, delete' })).toBeVisible();
  await expectReadable(ana.page, 'a deletion asked about');
  await own.getByRole('button', { name: 'Cancel' }).click();

  // Offline: the banner warns and a message waits, sending.
  await network.cut();
  await expect(ana.page.getByTestId('connection')).toHaveText('Reconnecting…');
  await say(ana.page, 'waiting for the network');
  await expect(ana.page.locator('.pending')).toHaveCount(1);
  await expectReadable(ana.page, 'offline with a message pending');
  network.restore();
  await expect(ana.page.getByTestId('connection')).toHaveText('Connected', { timeout: 30_000 });
  await expect(ana.page.locator('.pending')).toHaveCount(0);

  // A room left: the undo notice and the Join button; an archived room, read-only.
  await ana.page.getByRole('button', { name: 'Leave' }).click();
  await expect(ana.page.getByRole('button', { name: 'Join room' })).toBeVisible();
  await expectReadable(ana.page, 'a room just left');
  await openRoom(ana.page, archived, { join: false });
  await expect(composer(ana.page)).toHaveAttribute('readonly', '');
  await expectReadable(ana.page, 'an archived room');

  // A failure outside a form: the notice.
  await ana.page.route('**/api/rooms', (route) =>
    route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'internal', message: 'Something went wrong.' }) }));
  await ana.page.reload();
  await expect(ana.page.getByRole('alert').filter({ hasText: 'Something went wrong.' })).toBeVisible();
  await expectReadable(ana.page, 'a notice');
  await ana.page.unroute('**/api/rooms');

  await ana.page.goto('/settings');
  await expect(ana.page.locator('[data-hydrated="true"]')).toBeAttached();
  await expectReadable(ana.page, 'the settings');

  // Signed out: sign-in with its error, sign-up, a page that does not exist.
  const visitor = await browser.newPage({ baseURL: BASE });
  await visitor.goto('/login');
  await expect(visitor.locator('[data-hydrated="true"]')).toBeAttached();
  await visitor.getByLabel('Username').fill('nobody-here');
  await visitor.getByLabel('Password').fill('wrong password');
  await visitor.getByRole('button', { name: 'Sign in' }).click();
  await expect(visitor.getByRole('alert')).toHaveText('Wrong username or password.');
  await expectReadable(visitor, 'sign-in with an error');
  await visitor.goto('/register');
  await expectReadable(visitor, 'sign-up');
  await visitor.goto('/no/such/page');
  await expectReadable(visitor, 'the page-not-found page');

  // The admin area, with a notice and an error, and the questions opened.
  await admin.page.goto('/admin');
  await expect(admin.page.getByTestId('sockets')).toHaveText(/^\d+$/);
  await expectReadable(admin.page, 'the admin dashboard');
  await admin.page.goto('/admin/rooms?notice=Saved.&error=Something%20failed.');
  await admin.page.getByText('Delete…').first().click();
  await expectReadable(admin.page, 'the admin rooms');
  await admin.page.goto(`/admin/users?q=${bob.name}`);
  await admin.page.getByText(`Ban ${bob.name}…`).click();
  await expectReadable(admin.page, 'the admin users');
});
