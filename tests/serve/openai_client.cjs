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

  // Structured output: response_format json_schema holds every reply to the schema.
  const schema = {
    type: "object",
    properties: { name: { type: "string", maxLength: 10 }, rank: { enum: ["duke", "earl"] }, age: { type: "integer" } },
    required: ["name", "rank", "age"],
    additionalProperties: false,
  };
  const structured = await client.chat.completions.create({
    model, messages: [{ role: "user", content: "A noble, as JSON." }], max_tokens: 300, seed: 3, n: 3,
    response_format: { type: "json_schema", json_schema: { name: "noble", schema, strict: true } },
  });
  for (const choice of structured.choices) {
    assert.equal(choice.finish_reason, "stop");
    const v = JSON.parse(choice.message.content);
    assert.deepEqual(Object.keys(v), ["name", "rank", "age"]);
    assert.ok(["duke", "earl"].includes(v.rank) && Number.isInteger(v.age) && typeof v.name === "string");
  }

  // Tool calls: a forced function comes back as tool_calls, its arguments JSON matching the parameters, whole
  // and streamed (the client assembles the streamed call).
  const tools = [{
    type: "function",
    function: {
      name: "summon", description: "Summon a person",
      parameters: { type: "object", properties: { who: { type: "string", maxLength: 12 }, haste: { type: "boolean" } }, required: ["who", "haste"] },
    },
  }];
  const toolReq = { model, messages: [{ role: "user", content: "Fetch the duke." }], tools, max_tokens: 300, seed: 9,
                    tool_choice: { type: "function", function: { name: "summon" } } };
  const called = await client.chat.completions.create(toolReq);
  assert.equal(called.choices[0].finish_reason, "tool_calls");
  const call = called.choices[0].message.tool_calls[0];
  assert.equal(call.type, "function");
  assert.equal(call.function.name, "summon");
  const args = JSON.parse(call.function.arguments);
  assert.equal(typeof args.who, "string");
  assert.equal(typeof args.haste, "boolean");
  const toolStream = await client.chat.completions.create({ ...toolReq, stream: true });
  let streamedCall = null;
  let toolFinish = null;
  for await (const chunk of toolStream) {
    const d = chunk.choices[0].delta;
    if (d.tool_calls) streamedCall = d.tool_calls[0];
    toolFinish = chunk.choices[0].finish_reason || toolFinish;
  }
  assert.equal(toolFinish, "tool_calls");
  assert.equal(streamedCall.function.arguments, call.function.arguments);  // the same seed, the same call
  // The result goes back as a tool message; the conversation continues.
  const after = await client.chat.completions.create({
    model, tools, max_tokens: 40, seed: 1,
    messages: [...toolReq.messages, called.choices[0].message, { role: "tool", tool_call_id: call.id, content: "He comes." }],
  });
  assert.ok(["stop", "length", "tool_calls"].includes(after.choices[0].finish_reason));

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
