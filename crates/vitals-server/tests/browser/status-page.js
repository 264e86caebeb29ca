// Drives Debian's chromium (headless) through the status page for tests/e2e/status_page.rs.
// Usage: node status-page.js BASE_URL SCREENSHOT.png USER_DATA_DIR
// Prints one JSON line "ready" once every row is in, waits for a line on stdin (the test has
// stopped a dependency), waits for that row to change without a reload, then prints the
// verdict as one JSON line.
"use strict";
const { chromium } = require("playwright-core");
const readline = require("readline");

const [base, screenshot, userDataDir] = process.argv.slice(2);
const origin = new URL(base).origin;

(async () => {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  const consoleErrors = [];
  const foreign = [];
  let navigations = 0;
  // Requests for the page itself after it loaded: live updates must come from the events.
  let refetches = -1;
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith("data:") && !url.startsWith("about:") && new URL(url).origin !== origin) {
      foreign.push(url);
    } else if (refetches >= 0 && !url.startsWith("data:") && new URL(url).pathname === new URL(base).pathname) {
      refetches++;
    }
  });
  page.on("framenavigated", (f) => f === page.mainFrame() && navigations++);

  await page.goto(base, { waitUntil: "load" });
  await page.waitForSelector('[data-check="redis"][data-status="pass"]', { timeout: 20000 });
  const rows = await page.$$eval("tr[data-check]", (trs) =>
    trs.map((tr) => [tr.dataset.check, tr.dataset.status])
  );
  refetches = 0;
  console.log(JSON.stringify({ ready: true, rows }));

  const lines = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once("line", resolve));
  lines.close();
  await page.waitForSelector('[data-check="redis"][data-status="warn"]', { timeout: 30000 });
  const error = await page.$eval('[data-error-of="redis"]', (e) => e.textContent).catch(() => null);
  const png = await page.screenshot({ path: screenshot, fullPage: true });
  const blank = await (async () => {
    const other = await context.newPage();
    await other.setViewportSize({ width: 1280, height: 720 });
    const bytes = await other.screenshot({ fullPage: true });
    await other.close();
    return bytes.length;
  })();

  const badge = await context.newPage();
  await badge.goto(base + "/badge.svg");
  const svg = await badge.evaluate(
    () => document.documentElement instanceof SVGSVGElement &&
      document.documentElement.getAttribute("aria-label")
  );
  await badge.close();

  console.log(JSON.stringify({
    done: true,
    consoleErrors,
    foreign,
    navigations,
    refetches,
    error,
    screenshotBytes: png.length,
    blankBytes: blank,
    svg,
  }));
  await context.close();
  process.exit(0);
})().catch((e) => {
  console.log(JSON.stringify({ failed: String(e && e.stack || e) }));
  process.exit(1);
});
