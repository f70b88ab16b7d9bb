// The Terraform module in infra/, checked offline: fmt, init against the local provider mirror,
// validate, `terraform test` (plan runs on a mocked AWS provider, the examples included), and the
// same tests against copies of the module broken on purpose, one edit each, which must fail.
// Everything runs on temporary copies so no .terraform/ or lock file lands in the tree.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const infraDir = path.join(repoRoot, 'infra');
// Each terraform command loads the 700 MB AWS provider; on a busy 2-core machine that is slow.
const TF_TIMEOUT = 300_000;

interface Run {
  code: number | null;
  output: string;
}

function run(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('terraform', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function holdsAwsProvider(dir: string): boolean {
  const aws = path.join(dir, 'registry.terraform.io', 'hashicorp', 'aws');
  return fs.existsSync(aws) && fs.readdirSync(aws).some((v) => v.startsWith('5.'));
}

/** The folder holding registry.terraform.io/hashicorp/aws/5.x (a local plugin mirror). */
function findPluginDir(): string {
  const candidates = [
    process.env.WHEELHOUSE_TF_PLUGIN_DIR,
    '/opt/tf-plugins',
    path.join(os.homedir(), '.terraform.d', 'plugins'),
    '/usr/local/share/terraform/plugins',
    '/usr/share/terraform/plugins',
  ].filter((d): d is string => Boolean(d));
  for (const dir of candidates) if (holdsAwsProvider(dir)) return dir;
  // Shallow search of /opt for a mirror installed under another name.
  if (fs.existsSync('/opt')) {
    for (const entry of fs.readdirSync('/opt', { withFileTypes: true })) {
      const dir = path.join('/opt', entry.name);
      if (entry.isDirectory() && holdsAwsProvider(dir)) return dir;
    }
  }
  throw new Error(
    'No local Terraform plugin mirror with hashicorp/aws 5.x found (looked in ' +
      `${candidates.join(', ')} and /opt/*). These tests run offline: install the provider ` +
      'under <dir>/registry.terraform.io/hashicorp/aws/<version>/linux_amd64/ and set WHEELHOUSE_TF_PLUGIN_DIR=<dir>.',
  );
}

/** Copies infra/ without local Terraform state, so the copy starts from what git holds. */
function copyModule(to: string): void {
  fs.cpSync(infraDir, to, {
    recursive: true,
    filter: (src) => !/(^|[\\/])(\.terraform|\.terraform\.lock\.hcl|[^\\/]*\.tfstate[^\\/]*)$/.test(src),
  });
}

function tfFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.tf'))
    .map((f) => path.join(dir, f));
}

/** Terraform state that exists in the source tree (must be the same before and after). */
function terraformLeftovers(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.name === '.terraform' || e.name === '.terraform.lock.hcl' || e.name.includes('.tfstate')) found.push(p);
      else if (e.isDirectory()) walk(p);
    }
  };
  walk(infraDir);
  return found.sort();
}

/** hcl2json's output, untyped JSON: the assertions check its shape. */
type Hcl = Awaited<ReturnType<typeof parse>>;

async function parseFile(file: string): Promise<Hcl> {
  return parse(path.basename(file), fs.readFileSync(file, 'utf8'));
}

function runNamesOf(testsDir: string): string[] {
  return fs
    .readdirSync(testsDir)
    .filter((f) => f.endsWith('.tftest.hcl'))
    .flatMap((f) => [...fs.readFileSync(path.join(testsDir, f), 'utf8').matchAll(/^run "([^"]+)"/gm)].map((m) => m[1]!));
}

/** Runs at most `limit` of the given jobs at once (each terraform process takes a core). */
function limiter(limit: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await job();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

let work: string;
let moduleCopy: string;
let pluginDir: string;
let env: NodeJS.ProcessEnv;
let leftoversBefore: string[];

beforeAll(async () => {
  leftoversBefore = terraformLeftovers();
  const version = await run(repoRoot, ['version'], process.env).catch((err: unknown) => {
    throw new Error(`terraform is not installed or not on PATH (${String(err)}); install terraform >= 1.11`);
  });
  expect(version.code, version.output).toBe(0);
  pluginDir = findPluginDir();

  work = fs.mkdtempSync(path.join(os.tmpdir(), 'wheelhouse-tf-'));
  moduleCopy = path.join(work, 'infra');
  copyModule(moduleCopy);
  const cliConfig = path.join(work, 'terraformrc');
  fs.writeFileSync(cliConfig, '');
  env = {
    ...process.env,
    // An empty CLI config: no credentials, no provider mirrors from the developer's own setup.
    TF_CLI_CONFIG_FILE: cliConfig,
    CHECKPOINT_DISABLE: '1',
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
  };
  delete env.TF_DATA_DIR;
  delete env.TF_PLUGIN_CACHE_DIR;

  const init = await run(moduleCopy, ['init', '-backend=false', '-input=false', '-no-color', `-plugin-dir=${pluginDir}`], env);
  if (init.code !== 0) throw new Error(`terraform init failed in ${moduleCopy} with -plugin-dir=${pluginDir}:\n${init.output}`);
}, TF_TIMEOUT);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('infra/ Terraform module', () => {
  it('is formatted as terraform fmt would write it', async () => {
    const fmt = await run(moduleCopy, ['fmt', '-check', '-recursive', '-diff', '-no-color'], env);
    expect(fmt.output).toBe('');
    expect(fmt.code).toBe(0);
  });

  it(
    'validates with only the AWS provider installed',
    async () => {
      const validate = await run(moduleCopy, ['validate', '-no-color'], env);
      expect(validate.code, validate.output).toBe(0);
      expect(validate.output).toContain('The configuration is valid');
      const lock = fs.readFileSync(path.join(moduleCopy, '.terraform.lock.hcl'), 'utf8');
      expect([...lock.matchAll(/provider "([^"]+)"/g)].map((m) => m[1])).toEqual(['registry.terraform.io/hashicorp/aws']);
    },
    TF_TIMEOUT,
  );

  it(
    'passes every run of terraform test against the mocked provider, the examples planned as root configurations included',
    async () => {
      const runNames = runNamesOf(path.join(moduleCopy, 'tests'));
      expect(runNames.length).toBeGreaterThanOrEqual(30);
      expect(runNames).toEqual(expect.arrayContaining(['defaults', 'example_ec2', 'example_fargate']));

      const test = await run(moduleCopy, ['test', '-no-color'], env);
      expect(test.code, test.output).toBe(0);
      const summary = test.output.match(/Success! (\d+) passed, (\d+) failed/);
      expect(summary, test.output).not.toBeNull();
      expect(Number(summary![1])).toBe(runNames.length);
      expect(Number(summary![2])).toBe(0);
      for (const name of runNames) expect(test.output).toContain(`run "${name}"... pass`);
    },
    TF_TIMEOUT,
  );

  it.each(fs.readdirSync(path.join(infraDir, 'examples')).sort())(
    'example %s initialises offline and validates against the module at ../..',
    async (example) => {
      const dir = path.join(moduleCopy, 'examples', example);
      const main = fs.readFileSync(path.join(dir, 'main.tf'), 'utf8');
      expect(main).toMatch(/source\s*=\s*"\.\.\/\.\."/);
      const init = await run(dir, ['init', '-backend=false', '-input=false', '-no-color', `-plugin-dir=${pluginDir}`], env);
      expect(init.code, init.output).toBe(0);
      const validate = await run(dir, ['validate', '-no-color'], env);
      expect(validate.code, validate.output).toBe(0);
    },
    TF_TIMEOUT,
  );

  it('describes and types every variable and validates the ones a typo would break', async () => {
    const vars = await parseFile(path.join(infraDir, 'variables.tf'));
    const entries = Object.entries(vars.variable as Record<string, Hcl[]>);
    expect(entries.length).toBeGreaterThan(50);
    for (const [name, list] of entries) {
      const v = list[0] as Hcl;
      expect(v.description, `variable ${name} has no description`).toMatch(/\S{3,}/);
      expect(v.type, `variable ${name} has no type`).toBeDefined();
    }
    for (const name of [
      'launch_type',
      'name',
      'dns_name',
      'zone_id',
      'allowed_cidrs',
      'authenticate',
      'refresh_interval',
      'idle_timeout',
      'ssl_policy',
      'trusted_proxy_hops',
      'max_transfer_seconds',
      'shutdown_timeout',
      'extra_environment',
      'extra_secrets',
      'log_retention_days',
      'path_prefix',
      'existing_listener_arn',
      'listener_rule_priority',
    ]) {
      expect(vars.variable[name][0].validation, `variable ${name} has no validation`).toBeDefined();
    }
    expect(vars.variable.password[0].sensitive).toBe(true);
    expect(vars.variable.launch_type[0].default).toBe('EC2');
    // Private unless the operator opts out.
    expect(vars.variable.authenticate[0].default).toBe('download,list,update');
    expect(vars.variable.internal[0].default).toBe(true);
    expect(vars.variable.allowed_cidrs[0].default).toBeNull();
    expect(vars.variable.trusted_proxy_hops[0].default).toBe(1);
    // Off unless asked for.
    for (const name of ['upstream_url', 'upstream_credentials_secret_arn', 'token_key_secret_arn', 'trusted_publishers_json_arn']) {
      expect(vars.variable[name][0].default, `${name} is off by default`).toBeNull();
    }
    expect(vars.variable.extra_secrets[0].default).toEqual({});
    expect(vars.variable.enable_execute_command[0].default).toBe(false);
  });

  it('declares the outputs the runbooks read, with the password sensitive', async () => {
    const outs = await parseFile(path.join(infraDir, 'outputs.tf'));
    const names = Object.keys(outs.output);
    for (const name of [
      'pypi_server_urls',
      'index_url',
      'upload_url',
      'pypi_username',
      'pypi_password',
      'ecs_cluster_name',
      'ecs_service_name',
      'efs_file_system_id',
      'target_group_arn',
      'target_group_arn_suffix',
      'alb_arn_suffix',
      'access_logs_bucket',
      'log_group_name',
      'asg_name',
      'capacity',
      'server_environment',
      'cloudwatch_dashboard_url',
    ]) {
      expect(names).toContain(name);
      expect(outs.output[name][0].description, `output ${name} has no description`).toMatch(/\S/);
    }
    expect(outs.output.pypi_password[0].sensitive).toBe(true);
  });

  it('re-exports in each example every output a command of the README runbooks reads with terraform output -raw', async () => {
    const docs = ['README.md', 'infra/README.md'].map((f) => fs.readFileSync(path.join(repoRoot, f), 'utf8')).join('\n');
    const read = [...new Set([...docs.matchAll(/terraform output -raw ([a-z_]+)/g)].map((m) => m[1]!))].sort();
    const runbookOutputs = ['ecs_cluster_name', 'ecs_service_name', 'efs_file_system_id', 'pypi_password', 'pypi_server_urls'];
    expect(read).toEqual(expect.arrayContaining([...runbookOutputs, 'target_group_arn']));
    for (const example of fs.readdirSync(path.join(infraDir, 'examples'))) {
      const dir = path.join(infraDir, 'examples', example);
      const outputs = (await Promise.all(tfFiles(dir).map(parseFile))).flatMap((b) => Object.keys(b.output ?? {}));
      // asg_name exists only where there are instances.
      for (const name of read.filter((n) => n !== 'asg_name' || example === 'ec2')) {
        expect(outputs, `examples/${example} lacks output ${name}, which the README reads`).toContain(name);
      }
    }
  });

  it('requires terraform >= 1.6 and the AWS provider ~> 5.100 and uses no other provider', async () => {
    const blocks = await Promise.all(tfFiles(infraDir).map(parseFile));
    const terraformBlocks = blocks.flatMap((b) => (b.terraform ?? []) as Hcl[]);
    const [settings] = terraformBlocks as [Hcl];
    expect(terraformBlocks).toHaveLength(1);
    expect(settings.required_version).toBe('>= 1.6');
    expect(settings.required_providers).toEqual([{ aws: { source: 'hashicorp/aws', version: '~> 5.100' } }]);
    const types = blocks.flatMap((b) => [...Object.keys(b.resource ?? {}), ...Object.keys(b.data ?? {})]);
    expect(types.length).toBeGreaterThan(30);
    expect(types.filter((t) => !t.startsWith('aws_'))).toEqual([]);
  });

  it('leaves no Terraform state or lock file in the source tree', () => {
    expect(terraformLeftovers()).toEqual(leftoversBefore);
  });
});

/**
 * A module broken in one place must fail its tests. Each case is one edit an unwary change could
 * make, and the assertion or check that must catch it. The tests of tests/defaults.tftest.hcl
 * run on each broken copy (the other files plan other shapes; one failing file fails the suite).
 */
interface BrokenEdit {
  what: string;
  file: string;
  from: RegExp;
  to: string;
  caughtBy: string;
}

const brokenEdits: BrokenEdit[] = [
  {
    what: 'stickiness turned on',
    file: 'alb.tf',
    from: /(stickiness \{\n\s+enabled = )false/,
    to: '$1true',
    caughtBy: 'Stickiness must be off',
  },
  {
    what: 'the password put into the environment',
    file: 'ecs.tf',
    from: /(\n(\s+)WHEELHOUSE_USERNAME = var\.username)/,
    // nonsensitive(): a plain sensitive value would already stop the plan at the server_environment output.
    to: '$1\n$2WHEELHOUSE_PASSWORD = nonsensitive(var.password)',
    caughtBy: 'The password must not be a plain environment variable.',
  },
  {
    what: 'EFS transit encryption dropped',
    file: 'ecs.tf',
    from: /transit_encryption = "ENABLED"/,
    to: 'transit_encryption = "DISABLED"',
    caughtBy: 'The EFS volume must use transit encryption',
  },
  {
    what: 'the task role swapped for the execution role',
    file: 'ecs.tf',
    from: /(task_role_arn\s+= aws_iam_role\.)task\.arn/,
    to: '$1execution.arn',
    caughtBy: 'The process runs as the task role',
  },
  {
    what: 'the EFS policy granted to the execution role',
    file: 'efs.tf',
    from: /(Principal = \{ AWS = aws_iam_role\.)task(\.arn \})/,
    to: '$1execution$2',
    caughtBy: 'The file system policy must admit the task role',
  },
  {
    what: 'every X-Forwarded-For hop trusted',
    file: 'ecs.tf',
    from: /(WHEELHOUSE_TRUST_PROXY\s+= )tostring\(var\.trusted_proxy_hops\)/,
    to: '$1"true"',
    caughtBy: 'WHEELHOUSE_TRUST_PROXY must be 1',
  },
  {
    what: 'a zero health check grace period',
    file: 'ecs.tf',
    from: /(health_check_grace_period_seconds\s+= )var\.health_check_grace_period_seconds/,
    to: '$1 0',
    caughtBy: 'The grace period must be the variable and cover a first scan',
  },
  {
    what: 'an old TLS policy on the listener',
    file: 'alb.tf',
    from: /(ssl_policy\s+= )var\.ssl_policy/,
    to: '$1"ELBSecurityPolicy-2016-08"',
    caughtBy: 'The HTTPS listener must use a TLS 1.2-and-later policy',
  },
  {
    what: 'the unhealthy-hosts alarm without its target-group dimension',
    file: 'monitoring.tf',
    from: /(resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" \{(?:(?!\n\})[\s\S])*?dimensions\s+= local\.)tg_dimensions/,
    to: '$1alb_dimensions',
    caughtBy: 'The unhealthy-hosts alarm needs both the LoadBalancer and the TargetGroup dimension.',
  },
  {
    what: 'a malformed autoscaling resource label',
    file: 'autoscaling.tf',
    from: /(resource_label\s+= "\$\{local\.alb_arn_suffix\})\/(\$\{aws_lb_target_group\.this\.arn_suffix\}")/,
    to: '$1-$2',
    caughtBy: 'The requests-per-target policy needs the label',
  },
  {
    what: 'the keep-alive no longer above the ALB idle timeout',
    file: 'main.tf',
    from: /coalesce\(var\.keep_alive_timeout, var\.idle_timeout \+ 5\)/,
    to: 'coalesce(var.keep_alive_timeout, var.idle_timeout)',
    caughtBy: "must exceed the ALB's idle_timeout",
  },
  {
    what: 'the short deregistration delay of old',
    file: 'alb.tf',
    from: /deregistration_delay = local\.deregistration_delay/,
    to: 'deregistration_delay = 15',
    caughtBy: 'The deregistration delay must let the longest promised transfer',
  },
  {
    what: 'a stop timeout equal to the drain',
    file: 'main.tf',
    from: /min\(120, var\.shutdown_timeout \+ 5\)/,
    to: 'var.shutdown_timeout',
    caughtBy: 'must exceed shutdown_timeout',
  },
  {
    what: '/metrics served through the listener',
    file: 'alb.tf',
    from: /count = length\(local\.metrics_path_patterns\)/,
    to: 'count = 0',
    caughtBy: 'The HTTPS listener must answer 404 for /metrics itself.',
  },
  {
    what: 'downloads without a login by default',
    file: 'variables.tf',
    from: /(variable "authenticate" \{[^}]*?default\s+= )"download,list,update"/,
    to: '$1"update"',
    caughtBy: 'By default every action needs a login',
  },
  {
    what: 'an internet-facing ALB by default',
    file: 'variables.tf',
    from: /(variable "internal" \{[^}]*?default\s+= )true/,
    to: '$1false',
    caughtBy: 'An internet-facing ALB (internal = false) needs allowed_cidrs',
  },
  {
    what: 'no running task counted as OK',
    file: 'monitoring.tf',
    from: /(resource "aws_cloudwatch_metric_alarm" "no_running_tasks" \{(?:(?!\n\})[\s\S])*?treat_missing_data\s+= )"breaching"/,
    to: '$1"notBreaching"',
    caughtBy: 'An alarm fires when the service runs no task',
  },
  {
    what: "the ALB's own 5xx alarm counting task 5xx instead",
    file: 'monitoring.tf',
    from: /metric_name = "HTTPCode_ELB_5XX_Count"/,
    to: 'metric_name = "HTTPCode_Target_5XX_Count"',
    caughtBy: "An alarm watches the ALB's own 5xx",
  },
  {
    what: 'instances sized for max_tasks without the deployment headroom',
    file: 'ec2.tf',
    from: /ceil\(local\.deployment_peak_tasks \/ max\(1, local\.tasks_per_instance\)\)/,
    to: 'ceil(var.max_tasks / max(1, local.tasks_per_instance))',
    caughtBy: 'needs 16 tasks at once',
  },
];

describe('infra/ tests catch a broken module', () => {
  const slot = limiter(2);

  it.concurrent.each(brokenEdits)(
    'fails terraform test when $what',
    async ({ what, file, from, to, caughtBy }) => {
      const broken = path.join(work, `broken-${brokenEdits.findIndex((e) => e.what === what)}`);
      copyModule(broken);
      // Shares the initialised providers of the module copy instead of a 700 MB copy each.
      fs.symlinkSync(path.join(moduleCopy, '.terraform'), path.join(broken, '.terraform'));
      fs.copyFileSync(path.join(moduleCopy, '.terraform.lock.hcl'), path.join(broken, '.terraform.lock.hcl'));
      const p = path.join(broken, file);
      const before = fs.readFileSync(p, 'utf8');
      expect(before.match(new RegExp(from.source, 'g')) ?? [], `${file}: ${String(from)} must match exactly once`).toHaveLength(1);
      fs.writeFileSync(p, before.replace(from, to));

      const test = await slot(() => run(broken, ['test', '-no-color', '-filter=tests/defaults.tftest.hcl'], env));
      expect(test.code, test.output).not.toBe(0);
      expect(test.output.replace(/\s+/g, ' ')).toContain(caughtBy);
      expect(test.output).toMatch(/Failure! \d+ passed, [1-9]\d* failed/);
    },
    TF_TIMEOUT,
  );
});
