// A whole ECS workflow through the AWS SDK for JavaScript v3 against the real kubecs
// binary (no reconciler here, so nothing runs and a deleted service stays DRAINING):
// a cluster with a default capacity provider strategy, a task definition, a service scaled and rolled to a
// new revision with its deployment history, a one-off task stopped, then everything
// taken down.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  ListTasksCommand,
  PutClusterCapacityProvidersCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";

import { REGION, startKubecs } from "../lib/kubecs.js";

describe("a service workflow through ECSClient", () => {
  let server;
  let ecs;
  before(async () => {
    server = await startKubecs();
    ecs = new ECSClient({
      endpoint: server.endpoint,
      region: REGION,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  });
  after(async () => assert.equal(await server.stop(), 0, "kubecs exits 0 on SIGTERM"));

  it("creates, scales, rolls out, runs a task and takes it all down", async () => {
    await ecs.send(new CreateClusterCommand({ clusterName: "shop" }));
    await ecs.send(
      new PutClusterCapacityProvidersCommand({
        cluster: "shop",
        capacityProviders: ["FARGATE"],
        defaultCapacityProviderStrategy: [{ capacityProvider: "FARGATE", weight: 1 }],
      }),
    );
    const container = (image) => [{ name: "web", image, memory: 64, portMappings: [{ containerPort: 80 }] }];
    const v1 = await ecs.send(new RegisterTaskDefinitionCommand({ family: "shop", containerDefinitions: container("shop:1") }));
    const v2 = await ecs.send(new RegisterTaskDefinitionCommand({ family: "shop", containerDefinitions: container("shop:2") }));
    assert.equal(v2.taskDefinition.revision, 2);

    const created = await ecs.send(
      new CreateServiceCommand({ cluster: "shop", serviceName: "web", taskDefinition: "shop:1", desiredCount: 1 }),
    );
    assert.deepEqual(created.service.capacityProviderStrategy, [{ capacityProvider: "FARGATE", weight: 1 }]);
    await ecs.send(new UpdateServiceCommand({ cluster: "shop", service: "web", desiredCount: 3 }));
    const rolled = await ecs.send(new UpdateServiceCommand({ cluster: "shop", service: "web", taskDefinition: "shop:2" }));
    assert.equal(rolled.service.deployments.length, 2);
    assert.equal(rolled.service.deployments[0].desiredCount, 3);
    const history = await ecs.send(new ListServiceDeploymentsCommand({ cluster: "shop", service: "web" }));
    assert.deepEqual(
      history.serviceDeployments.map((d) => d.status),
      ["IN_PROGRESS", "STOPPED"],
    );

    const ran = await ecs.send(new RunTaskCommand({ cluster: "shop", taskDefinition: v1.taskDefinition.taskDefinitionArn, startedBy: "migrate" }));
    const task = ran.tasks[0];
    assert.equal(task.lastStatus, "PROVISIONING");
    assert.equal(task.capacityProviderName, "FARGATE");
    const listed = await ecs.send(new ListTasksCommand({ cluster: "shop", startedBy: "migrate" }));
    assert.deepEqual(listed.taskArns, [task.taskArn]);
    await ecs.send(new StopTaskCommand({ cluster: "shop", task: task.taskArn, reason: "done" }));
    const described = await ecs.send(new DescribeTasksCommand({ cluster: "shop", tasks: [task.taskArn] }));
    assert.equal(described.tasks[0].desiredStatus, "STOPPED");
    assert.equal(described.tasks[0].stopCode, "UserInitiated");

    await ecs.send(new DeleteServiceCommand({ cluster: "shop", service: "web", force: true }));
    const gone = await ecs.send(new DescribeServicesCommand({ cluster: "shop", services: ["web"] }));
    assert.equal(gone.services[0].status, "DRAINING");
    for (const revision of [1, 2]) {
      const out = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: `shop:${revision}` }));
      assert.equal(out.taskDefinition.status, "INACTIVE");
    }
    // The service is still draining (no reconciler runs here): ECS refuses the delete.
    const refused = await ecs.send(new DeleteClusterCommand({ cluster: "shop" })).then(
      () => assert.fail("deleted"),
      (e) => e,
    );
    assert.equal(refused.name, "ClusterContainsServicesException");
  });
});
