// The AWS SDK for JavaScript v3 (@aws-sdk/client-ecs) against the real kubecs binary:
// the clusters slice (issue 2) and every SigV4 refusal the SDK can produce (issue 3).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";

import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  ECSClient,
  ListClustersCommand,
  UpdateClusterSettingsCommand,
  paginateListClusters,
} from "@aws-sdk/client-ecs";

import { CREDENTIALS_TOML, REGION, SESSION_KEY, clusterArn, startKubecs } from "../lib/kubecs.js";

const TEST_KEY = { accessKeyId: "test", secretAccessKey: "test" };
const SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature you provided.";
const BAD_TOKEN = "The security token included in the request is invalid.";

/** An ECSClient with default retries (maxAttempts 3) that counts its HTTP attempts. */
function ecsClient(endpoint, options = {}) {
  const client = new ECSClient({ endpoint, region: REGION, credentials: TEST_KEY, ...options });
  client.httpAttempts = 0;
  // The deserialize step sits below the retry middleware: it runs once per attempt.
  client.middlewareStack.add(
    (next) => async (args) => {
      client.httpAttempts += 1;
      return next(args);
    },
    { step: "deserialize", name: "countAttempts" },
  );
  return client;
}

/** The serialized JSON body (the SDK may hold it as a Uint8Array). */
const bodyText = ({ body }) =>
  typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");

/** Change the request after the SDK has signed it. */
function afterSigning(client, mutate) {
  client.middlewareStack.addRelativeTo(
    (next) => async (args) => {
      mutate(args.request);
      return next(args);
    },
    { relation: "after", toMiddleware: "httpSigningMiddleware", name: "afterSigning" },
  );
  return client;
}

async function expectRefused(server, client, command, { name, message }) {
  const before = (await server.apiRequests()).length;
  const err = await client.send(command).then(
    () => assert.fail("request was accepted"),
    (e) => e,
  );
  assert.equal(err.name, name, err.message);
  assert.equal(err.$metadata.httpStatusCode, 400);
  assert.equal(err.$fault, "client");
  assert.equal(err.$metadata.attempts, 1);
  assert.equal(client.httpAttempts, 1);
  assert.deepEqual((await server.apiRequests()).slice(before).map((r) => [r.status, r.error]), [[400, name]]);
  if (message) assert.ok(err.message.includes(message), err.message);
  return err;
}

async function assertMissing(server, ...names) {
  const out = await ecsClient(server.endpoint).send(new DescribeClustersCommand({ clusters: names }));
  assert.deepEqual(out.clusters, []);
  assert.deepEqual(
    out.failures.map((f) => [f.arn, f.reason]).sort(),
    names.map((n) => [clusterArn(n), "MISSING"]).sort(),
  );
}

describe("clusters through ECSClient", () => {
  let server;
  let ecs;
  before(async () => {
    server = await startKubecs();
    ecs = ecsClient(server.endpoint);
  });
  after(async () => assert.equal(await server.stop(), 0, "kubecs exits 0 on SIGTERM"));

  it("creates an ACTIVE cluster with zero counts and containerInsights disabled", async () => {
    const out = await ecs.send(new CreateClusterCommand({ clusterName: "demo" }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.equal(out.$metadata.attempts, 1);
    assert.equal(out.cluster.clusterArn, "arn:aws:ecs:us-east-1:000000000000:cluster/demo");
    assert.equal(out.cluster.status, "ACTIVE");
    assert.equal(out.cluster.runningTasksCount, 0);
    assert.equal(out.cluster.activeServicesCount, 0);
    assert.deepEqual(out.cluster.settings, [{ name: "containerInsights", value: "disabled" }]);
  });

  it("describes it by name and by ARN, and an unknown name as a MISSING failure", async () => {
    const out = await ecs.send(
      new DescribeClustersCommand({ clusters: ["demo", clusterArn("demo"), "ghost"], include: ["SETTINGS"] }),
    );
    assert.deepEqual(out.clusters.map((c) => c.clusterArn), [clusterArn("demo"), clusterArn("demo")]);
    assert.deepEqual(out.clusters[0].settings, [{ name: "containerInsights", value: "disabled" }]);
    assert.deepEqual(out.failures, [{ arn: clusterArn("ghost"), reason: "MISSING" }]);
  });

  it("updates cluster settings", async () => {
    const out = await ecs.send(
      new UpdateClusterSettingsCommand({ cluster: "demo", settings: [{ name: "containerInsights", value: "enabled" }] }),
    );
    assert.deepEqual(out.cluster.settings, [{ name: "containerInsights", value: "enabled" }]);
  });

  it("lists every cluster with the paginator at page size 2", async () => {
    for (const n of ["p1", "p2", "p3", "p4"]) await ecs.send(new CreateClusterCommand({ clusterName: n }));
    const pages = [];
    for await (const page of paginateListClusters({ client: ecs, pageSize: 2 }, {})) pages.push(page.clusterArns);
    assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
    assert.deepEqual(
      pages.flat().sort(),
      ["demo", "p1", "p2", "p3", "p4"].map(clusterArn).sort(),
    );
    const whole = await ecs.send(new ListClustersCommand({}));
    assert.deepEqual(pages.flat(), whole.clusterArns);
  });

  it("deletes a cluster to INACTIVE, keeps it describable, and a second delete is ClusterNotFoundException", async () => {
    const out = await ecs.send(new DeleteClusterCommand({ cluster: "demo" }));
    assert.equal(out.cluster.status, "INACTIVE");
    const described = await ecs.send(new DescribeClustersCommand({ clusters: ["demo"] }));
    assert.deepEqual(described.clusters.map((c) => c.status), ["INACTIVE"]);
    ecs.httpAttempts = 0;
    await expectRefused(server, ecs, new DeleteClusterCommand({ cluster: "demo" }), {
      name: "ClusterNotFoundException",
    });
  });

  it("refuses an invalid cluster name with InvalidParameterException", async () => {
    ecs.httpAttempts = 0;
    await expectRefused(server, ecs, new CreateClusterCommand({ clusterName: "no spaces" }), {
      name: "InvalidParameterException",
    });
  });
});

describe("SigV4 through ECSClient", () => {
  let server;
  before(async () => {
    server = await startKubecs({ credentials: CREDENTIALS_TOML });
  });
  after(async () => assert.equal(await server.stop(), 0, "kubecs exits 0 on SIGTERM"));

  const create = (name) => new CreateClusterCommand({ clusterName: name });

  it("accepts a correctly signed request", async () => {
    const out = await ecsClient(server.endpoint).send(create("js-ok"));
    assert.equal(out.$metadata.attempts, 1);
    assert.equal(out.cluster.clusterArn, clusterArn("js-ok"));
  });

  it("answers a wrong secret with InvalidSignatureException, and the SDK does not retry it", async () => {
    const client = ecsClient(server.endpoint, { credentials: { accessKeyId: "test", secretAccessKey: "wrong" } });
    await expectRefused(server, client, create("js-wrong-secret"), {
      name: "InvalidSignatureException",
      message: SIGNATURE_MISMATCH,
    });
    await assertMissing(server, "js-wrong-secret");
  });

  it("answers an unknown access key with UnrecognizedClientException", async () => {
    const client = ecsClient(server.endpoint, { credentials: { accessKeyId: "AKIDNOBODY", secretAccessKey: "x" } });
    await expectRefused(server, client, create("js-unknown-key"), { name: "UnrecognizedClientException", message: BAD_TOKEN });
    await assertMissing(server, "js-unknown-key");
  });

  it("serves a client in eu-west-1 in that region, apart from us-east-1", async () => {
    const client = ecsClient(server.endpoint, { region: "eu-west-1" });
    const out = await client.send(create("js-eu-west-1"));
    assert.equal(out.cluster.clusterArn, "arn:aws:ecs:eu-west-1:000000000000:cluster/js-eu-west-1");
    await assertMissing(server, "js-eu-west-1");
  });

  it("answers a scope for another service with InvalidSignatureException", async () => {
    const client = ecsClient(server.endpoint, { signingName: "ec2" });
    await expectRefused(server, client, create("js-wrong-service"), {
      name: "InvalidSignatureException",
      message: "Credential should be scoped to correct service: 'ecs'",
    });
    await assertMissing(server, "js-wrong-service");
  });

  it("answers a key configured with a session token but sent without it with UnrecognizedClientException", async () => {
    const { accessKeyId, secretAccessKey } = SESSION_KEY;
    const client = ecsClient(server.endpoint, { credentials: { accessKeyId, secretAccessKey } });
    await expectRefused(server, client, create("js-no-token"), { name: "UnrecognizedClientException", message: BAD_TOKEN });
    await assertMissing(server, "js-no-token");
  });

  it("accepts the session key with its token", async () => {
    const out = await ecsClient(server.endpoint, { credentials: SESSION_KEY }).send(create("js-token"));
    assert.equal(out.cluster.status, "ACTIVE");
  });

  // The JS SDK sends (and signs) x-amz-content-sha256, so a changed body is caught twice:
  // by the header check if the header is left alone, by the signature if it is updated.
  it("answers a body changed after signing with InvalidSignatureException (content hash header mismatch)", async () => {
    const client = afterSigning(ecsClient(server.endpoint), (request) => {
      assert.ok(request.headers["x-amz-content-sha256"], "the SDK sends x-amz-content-sha256");
      assert.ok(bodyText(request).includes("js-tamper-a"));
      request.body = bodyText(request).replace("js-tamper-a", "js-tamper-b");
    });
    await expectRefused(server, client, create("js-tamper-a"), {
      name: "InvalidSignatureException",
      message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
    });
    await assertMissing(server, "js-tamper-a", "js-tamper-b");
  });

  it("answers a body and content hash changed after signing with InvalidSignatureException", async () => {
    const client = afterSigning(ecsClient(server.endpoint), (request) => {
      assert.ok(bodyText(request).includes("js-tamper-c"));
      request.body = bodyText(request).replace("js-tamper-c", "js-tamper-d");
      request.headers["x-amz-content-sha256"] = createHash("sha256").update(request.body).digest("hex");
    });
    await expectRefused(server, client, create("js-tamper-c"), {
      name: "InvalidSignatureException",
      message: SIGNATURE_MISMATCH,
    });
    await assertMissing(server, "js-tamper-c", "js-tamper-d");
  });

  it("answers a request stripped of its signature with MissingAuthenticationTokenException", async () => {
    const client = afterSigning(ecsClient(server.endpoint), (request) => {
      for (const h of Object.keys(request.headers)) {
        if (/^(authorization|x-amz-date|x-amz-security-token|x-amz-content-sha256)$/i.test(h)) delete request.headers[h];
      }
    });
    await expectRefused(server, client, create("js-unsigned"), {
      name: "MissingAuthenticationTokenException",
      message: "Request is missing Authentication Token",
    });
    await assertMissing(server, "js-unsigned");
  });

  it("corrects a clock 20 minutes behind from the Date of the 'Signature expired' answer and retries once", async () => {
    // Observed SDK behaviour: an InvalidSignatureException whose message says "Signature
    // expired" is a transient error to the SDK, and its signer takes the server's Date
    // header as the clock offset; the retry is signed with the corrected time.
    const client = ecsClient(server.endpoint, { systemClockOffset: -20 * 60 * 1000 });
    const before = (await server.apiRequests()).length;
    const out = await client.send(create("js-skewed"));
    assert.equal(out.$metadata.attempts, 2);
    assert.equal(client.httpAttempts, 2);
    assert.equal(out.cluster.status, "ACTIVE");
    assert.deepEqual((await server.apiRequests()).slice(before).map((r) => [r.status, r.error]), [
      [400, "InvalidSignatureException"],
      [200, ""],
    ]);
    assert.ok(Math.abs(client.config.systemClockOffset) < 60_000, `offset now ${client.config.systemClockOffset}`);
  });

  it("does not retry an expired signature when the clock cannot be corrected (maxAttempts 1)", async () => {
    const client = ecsClient(server.endpoint, { systemClockOffset: -20 * 60 * 1000, maxAttempts: 1 });
    await expectRefused(server, client, create("js-skewed-once"), {
      name: "InvalidSignatureException",
      message: "Signature expired",
    });
    await assertMissing(server, "js-skewed-once");
  });
});
