// Stratus's Runtime API client for Node.js Lambda functions.
//
// It does what AWS's `aws-lambda-ric` does for a managed Node.js runtime, in
// plain Node (the real client needs a native build with cmake and autotools,
// which a fresh machine lacks): load the handler named by `_HANDLER` from
// `LAMBDA_TASK_ROOT`, then loop over the Runtime API's `next`, `response`
// and `error` endpoints. Handlers may be async, return a promise, or take a
// callback; `console` lines carry the timestamp, request id and level as on
// Lambda. Init failures go to `/init/error` with Lambda's error types
// (Runtime.ImportModuleError, Runtime.HandlerNotFound,
// Runtime.UserCodeSyntaxError, Runtime.MalformedHandlerName).
//
// Usage: node ric.mjs <handler>   (the handler also comes from _HANDLER)

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { pathToFileURL } from "node:url";

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

let currentRequestId = "";

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const [host, port] = API.split(":");
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host,
        port: Number(port),
        path: urlPath,
        method,
        agent,
        headers: data
          ? { ...headers, "content-length": data.length }
          : headers,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

// console.* in Lambda's text format: time, request id, level, message.
function patchConsole() {
  const write = (level, stream) => (...args) => {
    const message = util.format(...args).replace(/\n/g, "\r");
    stream.write(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${message}\n`);
  };
  console.log = write("INFO", process.stdout);
  console.info = write("INFO", process.stdout);
  console.debug = write("DEBUG", process.stdout);
  console.trace = write("TRACE", process.stdout);
  console.warn = write("WARN", process.stderr);
  console.error = write("ERROR", process.stderr);
}

function errorDocument(error, fallbackType = "Error") {
  if (error instanceof Error) {
    return {
      errorType: error.name && error.name !== "Error" ? error.name : error.constructor?.name || fallbackType,
      errorMessage: error.message,
      trace: String(error.stack || "").split("\n"),
    };
  }
  if (error && typeof error === "object") {
    return { errorType: fallbackType, errorMessage: JSON.stringify(error), trace: [] };
  }
  return { errorType: "string", errorMessage: String(error), trace: [] };
}

class InitError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    if (cause?.stack) this.stack = `${type}: ${message}\n${cause.stack}`;
  }
}

async function loadHandler(spec) {
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const dot = spec ? spec.lastIndexOf(".") : -1;
  if (dot <= 0 || dot === spec.length - 1) {
    throw new InitError("Runtime.MalformedHandlerName", `Bad handler ${spec}`);
  }
  const modulePath = spec.slice(0, dot);
  const chain = spec.slice(dot + 1);
  const base = path.resolve(root, modulePath);
  const candidates = [`${base}.mjs`, `${base}.cjs`, `${base}.js`, base];
  const file = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  if (!file) {
    throw new InitError("Runtime.ImportModuleError", `Error: Cannot find module '${modulePath}'`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new InitError("Runtime.UserCodeSyntaxError", `${error.name}: ${error.message}`, error);
    }
    if (error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "MODULE_NOT_FOUND") {
      throw new InitError("Runtime.ImportModuleError", `Error: ${error.message}`, error);
    }
    throw error;
  }
  let handler = mod;
  for (const part of chain.split(".")) {
    handler = handler?.[part] ?? handler?.default?.[part];
  }
  if (typeof handler !== "function") {
    throw new InitError("Runtime.HandlerNotFound", `${modulePath}.${chain} is undefined or not exported`);
  }
  return handler;
}

function context(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const ctx = {
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  if (headers["lambda-runtime-client-context"]) {
    try {
      ctx.clientContext = JSON.parse(headers["lambda-runtime-client-context"]);
    } catch {
      ctx.clientContext = undefined;
    }
  }
  if (headers["lambda-runtime-cognito-identity"]) {
    try {
      ctx.identity = JSON.parse(headers["lambda-runtime-cognito-identity"]);
    } catch {
      ctx.identity = undefined;
    }
  }
  return ctx;
}

// Runs the handler in whichever style it was written: a returned promise,
// a plain value, or the (event, context, callback) form.
function run(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (error, value) => {
      if (settled) return;
      settled = true;
      if (error !== null && error !== undefined) reject(error);
      else resolve(value);
    };
    ctx.done = done;
    ctx.succeed = (value) => done(null, value);
    ctx.fail = (error) => done(error ?? "handled");
    try {
      const result = handler(event, ctx, done);
      if (result && typeof result.then === "function") {
        result.then((value) => done(null, value), (error) => done(error ?? new Error("rejected")));
      } else if (handler.length < 3) {
        done(null, result);
      }
    } catch (error) {
      done(error);
    }
  });
}

async function main() {
  if (!API) {
    process.stderr.write("AWS_LAMBDA_RUNTIME_API is not set\n");
    process.exit(1);
  }
  patchConsole();
  const spec = process.argv[2] || process.env._HANDLER;
  let handler;
  try {
    handler = await loadHandler(spec);
  } catch (error) {
    const doc = errorDocument(error, "Runtime.ImportModuleError");
    console.error(JSON.stringify(doc));
    await request("POST", `${BASE}/init/error`, JSON.stringify(doc), {
      "content-type": "application/json",
      "lambda-runtime-function-error-type": doc.errorType,
    });
    process.exit(1);
  }
  for (;;) {
    const next = await request("GET", `${BASE}/invocation/next`);
    if (next.status !== 200) {
      process.stderr.write(`runtime API /next answered ${next.status}: ${next.body}\n`);
      process.exit(1);
    }
    const id = next.headers["lambda-runtime-aws-request-id"];
    currentRequestId = id;
    if (next.headers["lambda-runtime-trace-id"]) {
      process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
    }
    let event;
    try {
      const text = next.body.toString("utf8");
      event = text.length ? JSON.parse(text) : null;
    } catch (error) {
      const doc = { errorType: "Runtime.UnmarshalError", errorMessage: `Unable to parse the event as JSON: ${error.message}`, trace: [] };
      await request("POST", `${BASE}/invocation/${id}/error`, JSON.stringify(doc), {
        "content-type": "application/json",
        "lambda-runtime-function-error-type": doc.errorType,
      });
      continue;
    }
    try {
      const value = await run(handler, event, context(next.headers));
      const body = value === undefined ? "null" : JSON.stringify(value);
      await request("POST", `${BASE}/invocation/${id}/response`, body ?? "null", {
        "content-type": "application/json",
      });
    } catch (error) {
      const doc = errorDocument(error);
      console.error(`Invoke Error \t${JSON.stringify(doc)}`);
      await request("POST", `${BASE}/invocation/${id}/error`, JSON.stringify(doc), {
        "content-type": "application/json",
        "lambda-runtime-function-error-type": doc.errorType,
      });
    }
  }
}

process.on("unhandledRejection", (reason) => {
  console.error(`Unhandled Promise Rejection \t${JSON.stringify(errorDocument(reason))}`);
  process.exit(128);
});

main().catch((error) => {
  process.stderr.write(`runtime client failed: ${error?.stack || error}\n`);
  process.exit(1);
});
