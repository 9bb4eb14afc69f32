// The chat page in a real browser (Debian's chromium, driven by puppeteer-core): type a message, see the reply
// stream in, stop a long one, and keep a screenshot. Run by node_test.sh, which starts the server and gives its
// address in RWKV_URL and the screenshot's path in SCREENSHOT.
"use strict";
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const puppeteer = require("puppeteer-core");

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "rwkv-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 700 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(process.env.RWKV_URL, { waitUntil: "load" });
    assert.equal(await page.title(), "rwkv chat");

    // A message: the reply appears piece by piece, and the Send button comes back when it ends.
    await page.$eval("#max_tokens", (e) => { e.value = "80"; });
    await page.type("#input", "Good morrow, what news?");
    await page.click("#send");
    await page.waitForFunction(() => document.querySelectorAll(".msg.assistant .text")[0].textContent.length > 0, { timeout: 30000 });
    const partial = await page.$eval(".msg.assistant .text", (e) => e.textContent.length);
    await page.waitForFunction(() => !document.getElementById("send").disabled, { timeout: 60000 });
    const reply = await page.$eval(".msg.assistant .text", (e) => e.textContent);
    assert.ok(reply.length >= partial && reply.length > 0, "the reply streamed in: " + JSON.stringify(reply));
    assert.equal(await page.$eval(".msg.user .text", (e) => e.textContent), "Good morrow, what news?");

    // A long reply stopped with the Stop button: the page is ready for the next message.
    await page.$eval("#max_tokens", (e) => { e.value = "100000"; });
    await page.type("#input", "Tell me all.");
    await page.click("#send");
    await page.waitForFunction(() => document.querySelectorAll(".msg.assistant .text")[1].textContent.length > 10, { timeout: 30000 });
    await page.click("#stop");
    await page.waitForFunction(() => !document.getElementById("send").disabled, { timeout: 30000 });
    assert.equal(await page.$$eval(".msg.error", (e) => e.length), 0);

    await page.screenshot({ path: process.env.SCREENSHOT });
    assert.deepEqual(errors, []);
    console.log("chat page: all checks passed; screenshot in " + process.env.SCREENSHOT);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
