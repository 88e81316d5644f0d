import { defineConfig } from '@playwright/test';

// The debug server built by `cargo leptos build`, on its own port (E2E_PORT, so that two
// checkouts on one machine can run the suite at once) and a fresh database per run.
const port = Number(process.env.E2E_PORT ?? 3123);

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  webServer: {
    // The release binary, as people run it (embedded, precompressed, content-hashed bundle);
    // E2E_BIN names another (e.g. ../target/debug/tagarela after `cargo leptos build`).
    command: `dir=$(mktemp -d) && DATABASE_URL="sqlite://$dir/e2e.db" exec ${process.env.E2E_BIN ?? '../target/release/tagarela'}`,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: {
      PORT: String(port),
      BIND: '127.0.0.1',
      JWT_SECRET: 'end2end-secret-end2end-secret-end2end',
      // An admin that exists from the start, so tests can create rooms.
      ADMIN_USERNAME: 'admin',
      ADMIN_PASSWORD: 'admin-password-e2e',
      // Tests sign up many users, and open many pages (each a new socket), from one address.
      REGISTER_RATE: '1000/1m',
      HANDSHAKE_RATE: '1000/1m',
      // Tests seed history through the API; the rate limit itself is tested in Rust.
      MESSAGE_RATE: '1000/10s',
      RUST_LOG: 'warn',
    },
  },
});
