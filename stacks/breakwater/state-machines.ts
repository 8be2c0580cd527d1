/**
 * The stage and rollback state machines: the ASL files' bytes unchanged (the same files the
 * local mode runs), CloudFormation filling their ${...} placeholders with the task functions'
 * ARNs; one role that may invoke exactly those functions, logging and tracing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { ArnFormat, RemovalPolicy, type Stack } from "aws-cdk-lib/core";
import type { App, Function as SstFunction } from "sst/constructs";
import { placeholdersIn } from "../../src/app/asl.ts";
import { type ControlPlaneFunctions, FUNCTIONS, type FunctionName } from "./functions.ts";

export interface StateMachineNames {
  stageName: string;
  stageArn: string;
  rollbackName: string;
  rollbackArn: string;
  approvalTimerName: string;
  approvalTimerArn: string;
}

/**
 * The machines' fixed names and the ARNs computed from them (name, partition, region, account):
 * the task functions are invoked BY the machines, so their variables and roles cannot refer to
 * the machines themselves (a dependency cycle).
 */
export function stateMachineNames(stack: Stack, app: App): StateMachineNames {
  const arnOf = (resourceName: string) =>
    stack.formatArn({
      service: "states",
      resource: "stateMachine",
      resourceName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  const stageName = app.logicalPrefixedName("stage");
  const rollbackName = app.logicalPrefixedName("rollback");
  const approvalTimerName = app.logicalPrefixedName("approval-timer");
  return {
    stageName,
    stageArn: arnOf(stageName),
    rollbackName,
    rollbackArn: arnOf(rollbackName),
    approvalTimerName,
    approvalTimerArn: arnOf(approvalTimerName),
  };
}

export interface StateMachines {
  stateMachine: CfnStateMachine;
  rollbackStateMachine: CfnStateMachine;
  /** One Wait per approval asked for; it invokes nothing (its status change reaches promote). */
  approvalTimerStateMachine: CfnStateMachine;
  stateMachineRole: Role;
  /** The functions the machines invoke as Tasks (synchronously). */
  taskFunctions: SstFunction[];
}

/** Creates both machines, their log groups and their role. */
export function stateMachines(
  stack: Stack,
  o: {
    root: string;
    isProd: boolean;
    names: StateMachineNames;
    functions: ControlPlaneFunctions;
  },
): StateMachines {
  // The ASL file's bytes, unchanged; CloudFormation fills its ${...} placeholders.
  const definition = readFileSync(join(o.root, "statemachines", "stage.asl.json"), "utf8");
  const byPlaceholder = new Map<string, SstFunction>();
  for (const [name, spec] of Object.entries(FUNCTIONS) as [
    FunctionName,
    (typeof FUNCTIONS)[FunctionName],
  ][]) {
    if (spec.placeholder) byPlaceholder.set(spec.placeholder, o.functions[name]);
  }
  const definitionSubstitutions: Record<string, string> = {};
  for (const placeholder of placeholdersIn(definition)) {
    const fn = byPlaceholder.get(placeholder);
    if (!fn) throw new Error(`statemachines/stage.asl.json: no value for \${${placeholder}}`);
    definitionSubstitutions[placeholder] = fn.functionArn;
  }
  const taskFunctions = [...byPlaceholder.values()];

  const executionLogs = new LogGroup(stack, "StageExecutionLogs", {
    // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small when many
    // state machines log (AWS recommendation for vended logs).
    logGroupName: `/aws/vendedlogs/states/${o.names.stageName}`,
    retention: o.isProd ? RetentionDays.SIX_MONTHS : RetentionDays.TWO_WEEKS,
    removalPolicy: o.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });

  // Inline policies are part of the role resource, so the role can already deliver logs and
  // invoke the tasks when CreateStateMachine validates it.
  const stateMachineRole = new Role(stack, "StageStateMachineRole", {
    assumedBy: new ServicePrincipal("states.amazonaws.com"),
    inlinePolicies: {
      tasks: new PolicyDocument({
        statements: [
          new PolicyStatement({
            actions: ["lambda:InvokeFunction"],
            resources: taskFunctions.map((f) => f.functionArn),
          }),
        ],
      }),
      observability: new PolicyDocument({
        statements: [
          new PolicyStatement({
            // Log delivery for Step Functions is configured through these account-level APIs,
            // which AWS only supports on "*".
            actions: [
              "logs:CreateLogDelivery",
              "logs:GetLogDelivery",
              "logs:UpdateLogDelivery",
              "logs:DeleteLogDelivery",
              "logs:ListLogDeliveries",
              "logs:PutResourcePolicy",
              "logs:DescribeResourcePolicies",
              "logs:DescribeLogGroups",
            ],
            resources: ["*"],
          }),
          new PolicyStatement({
            // X-Ray APIs have no resource-level permissions.
            actions: [
              "xray:PutTraceSegments",
              "xray:PutTelemetryRecords",
              "xray:GetSamplingRules",
              "xray:GetSamplingTargets",
            ],
            resources: ["*"],
          }),
        ],
      }),
    },
  });

  const stateMachine = new CfnStateMachine(stack, "StageStateMachine", {
    stateMachineName: o.names.stageName,
    stateMachineType: "STANDARD",
    roleArn: stateMachineRole.roleArn,
    definitionString: definition,
    definitionSubstitutions,
    loggingConfiguration: {
      level: "ALL",
      includeExecutionData: true,
      destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: executionLogs.logGroupArn } }],
    },
    tracingConfiguration: { enabled: true },
  });

  // The rollback state machine (fast rollback on an alarm event): same role, same logging.
  const rollbackDefinition = readFileSync(
    join(o.root, "statemachines", "rollback.asl.json"),
    "utf8",
  );
  const rollbackSubstitutions: Record<string, string> = {};
  for (const placeholder of placeholdersIn(rollbackDefinition)) {
    const fn = byPlaceholder.get(placeholder);
    if (!fn) throw new Error(`statemachines/rollback.asl.json: no value for \${${placeholder}}`);
    rollbackSubstitutions[placeholder] = fn.functionArn;
  }
  const rollbackLogs = new LogGroup(stack, "RollbackExecutionLogs", {
    logGroupName: `/aws/vendedlogs/states/${o.names.rollbackName}`,
    retention: o.isProd ? RetentionDays.SIX_MONTHS : RetentionDays.TWO_WEEKS,
    removalPolicy: o.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const rollbackStateMachine = new CfnStateMachine(stack, "RollbackStateMachine", {
    stateMachineName: o.names.rollbackName,
    stateMachineType: "STANDARD",
    roleArn: stateMachineRole.roleArn,
    definitionString: rollbackDefinition,
    definitionSubstitutions: rollbackSubstitutions,
    loggingConfiguration: {
      level: "ALL",
      includeExecutionData: true,
      destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: rollbackLogs.logGroupArn } }],
    },
    tracingConfiguration: { enabled: true },
  });

  // The approval timer: a Wait and a Succeed, no Task, so its role needs no invoke rights; it
  // logs like the others.
  const timerDefinition = readFileSync(
    join(o.root, "statemachines", "approval-timer.asl.json"),
    "utf8",
  );
  const timerLogs = new LogGroup(stack, "ApprovalTimerExecutionLogs", {
    logGroupName: `/aws/vendedlogs/states/${o.names.approvalTimerName}`,
    retention: o.isProd ? RetentionDays.SIX_MONTHS : RetentionDays.TWO_WEEKS,
    removalPolicy: o.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const approvalTimerStateMachine = new CfnStateMachine(stack, "ApprovalTimerStateMachine", {
    stateMachineName: o.names.approvalTimerName,
    stateMachineType: "STANDARD",
    roleArn: stateMachineRole.roleArn,
    definitionString: timerDefinition,
    loggingConfiguration: {
      level: "ALL",
      includeExecutionData: true,
      destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: timerLogs.logGroupArn } }],
    },
    tracingConfiguration: { enabled: true },
  });

  return {
    stateMachine,
    rollbackStateMachine,
    approvalTimerStateMachine,
    stateMachineRole,
    taskFunctions,
  };
}
