// The official `openai` npm client against `rwkv serve`: what existing clients send, unchanged, gets what they
// expect back. Run by node_test.sh, which starts the server on the shipped model (bytes vocabulary: token id =
// byte value) and gives its address in RWKV_URL.
"use strict";
const assert = require("node:assert/strict");
const OpenAI = require("openai");

const client = new OpenAI({ baseURL: process.env.RWKV_URL + "v1", apiKey: "unused", maxRetries: 0 });
const model = "shakespeare";

async function main() {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [model]);

  // Completions, whole.
  const c = await client.completions.create({ model, prompt: "ROMEO:", max_tokens: 24, temperature: 0 });
  assert.equal(c.object, "text_completion");
  assert.equal(typeof c.choices[0].text, "string");
  assert.equal(c.choices[0].finish_reason, "length");
  assert.deepEqual(c.usage, { prompt_tokens: 6, completion_tokens: 24, total_tokens: 30 });

  // The same, streamed, with the usage chunk.
  const stream = await client.completions.create({
    model, prompt: "ROMEO:", max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) text += chunk.choices[0].text;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, c.choices[0].text);
  assert.equal(usage.completion_tokens, 24);

  // Chat, whole and streamed, with two choices.
  const messages = [{ role: "system", content: "Thou art a herald." }, { role: "user", content: "What news?" }];
  const chat = await client.chat.completions.create({ model, messages, max_tokens: 30, temperature: 0, n: 2 });
  assert.equal(chat.object, "chat.completion");
  assert.equal(chat.choices.length, 2);
  assert.equal(chat.choices[0].message.role, "assistant");
  assert.equal(chat.choices[0].message.content, chat.choices[1].message.content);
  const chatStream = await client.chat.completions.create({ model, messages, max_tokens: 30, temperature: 0, stream: true });
  let content = "";
  let finish = null;
  for await (const chunk of chatStream) {
    content += chunk.choices[0].delta.content || "";
    finish = chunk.choices[0].finish_reason || finish;
  }
  assert.equal(content, chat.choices[0].message.content);
  assert.equal(finish, chat.choices[0].finish_reason);

  // Sampling settings: a seed repeats a sample, a stop string ends it, a logit bias forces a token.
  const sampled = { model, prompt: "KING:", max_tokens: 30, temperature: 1.0, top_p: 0.9, seed: 42 };
  const s1 = await client.completions.create(sampled);
  const s2 = await client.completions.create(sampled);
  assert.equal(s1.choices[0].text, s2.choices[0].text);
  const stopped = await client.completions.create({ model, prompt: "ROMEO:", max_tokens: 50, temperature: 0, stop: ["\n"] });
  assert.ok(!stopped.choices[0].text.includes("\n"));
  const forced = await client.completions.create({ model, prompt: "X", max_tokens: 5, logit_bias: { 65: 100 } });
  assert.equal(forced.choices[0].text, "AAAAA");

  // Errors come back as the client's typed errors, with OpenAI's status codes.
  await assert.rejects(client.completions.create({ model: "gpt-4", prompt: "x" }), (e) => e.status === 404 && e instanceof OpenAI.NotFoundError);
  await assert.rejects(client.completions.create({ model, prompt: "x", max_tokens: 10 ** 9 }), (e) => e.status === 400 && e instanceof OpenAI.BadRequestError);
  await assert.rejects(client.chat.completions.create({ model, messages: [] }), (e) => e.status === 400);
  console.log("openai client: all checks passed");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
