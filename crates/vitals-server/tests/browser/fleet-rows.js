// Reads the status page's fleet column in Debian's chromium (headless) for
// tests/e2e/fleet.rs. Usage: node fleet-rows.js PAGE_URL USER_DATA_DIR CHECK
// Waits until CHECK's row shows the fleet, then prints one JSON line: the fleet line, the
// row's replica list and counts, and any console error.
"use strict";
const { chromium } = require("playwright-core");

const [url, userDataDir, check] = process.argv.slice(2);

(async () => {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const page = context.pages()[0] || (await context.newPage());
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url, { waitUntil: "load" });
  const row = `tr[data-check="${check}"]`;
  await page.waitForSelector(`${row} td.fleet ul li`, { timeout: 20000 });
  const fleet = await page.$eval(row, (tr) => {
    const cell = tr.querySelector("td.fleet");
    const count = (s) => Number((cell.querySelector(`[data-fleet-${s}]`) || { dataset: {} }).dataset[`fleet${s[0].toUpperCase()}${s.slice(1)}`] || 0);
    return {
      replicas: [...cell.querySelectorAll("ul li")].map((li) => [li.dataset.replica, li.dataset.status]),
      timeline: [...cell.querySelectorAll("ol li")].map((li) => li.dataset.status),
      pass: count("pass"),
      warn: count("warn"),
      fail: count("fail"),
      visible: cell.getBoundingClientRect().width > 0,
      header: [...document.querySelectorAll("thead th")].map((th) => th.textContent),
      line: (document.getElementById("fleet") || {}).textContent || null,
    };
  });
  console.log(JSON.stringify({ fleet, consoleErrors }));
  await context.close();
})().catch((e) => {
  console.log(JSON.stringify({ error: String(e) }));
  process.exit(1);
});
