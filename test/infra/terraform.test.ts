// The Terraform module in infra/, checked offline: fmt, init against the local provider mirror,
// validate, `terraform test` (plan runs on a mocked AWS provider) and each example. Everything runs
// on a temporary copy so no .terraform/ or lock file lands in the tree.
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
const TF_TIMEOUT = 180_000;

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
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).map((f) => path.join(dir, f));
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

type Hcl = Record<string, any>;

async function parseFile(file: string): Promise<Hcl> {
  return (await parse(path.basename(file), fs.readFileSync(file, 'utf8'))) as Hcl;
}

let work: string;
let moduleCopy: string;
let pluginDir: string;
let env: NodeJS.ProcessEnv;
let leftoversBefore: string[];

beforeAll(async () => {
  leftoversBefore = terraformLeftovers();
  const version = await run(repoRoot, ['version'], process.env).catch((err: Error) => {
    throw new Error(`terraform is not installed or not on PATH (${err.message}); install terraform >= 1.11`);
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

  it('validates with only the AWS provider installed', async () => {
    const validate = await run(moduleCopy, ['validate', '-no-color'], env);
    expect(validate.code, validate.output).toBe(0);
    expect(validate.output).toContain('The configuration is valid');
    const lock = fs.readFileSync(path.join(moduleCopy, '.terraform.lock.hcl'), 'utf8');
    expect([...lock.matchAll(/provider "([^"]+)"/g)].map((m) => m[1])).toEqual(['registry.terraform.io/hashicorp/aws']);
  }, TF_TIMEOUT);

  it('passes every plan run of terraform test against the mocked provider', async () => {
    const runNames = fs
      .readdirSync(path.join(moduleCopy, 'tests'))
      .filter((f) => f.endsWith('.tftest.hcl'))
      .flatMap((f) => [...fs.readFileSync(path.join(moduleCopy, 'tests', f), 'utf8').matchAll(/^run "([^"]+)"/gm)].map((m) => m[1]));
    expect(runNames.length).toBeGreaterThanOrEqual(6);

    const test = await run(moduleCopy, ['test', '-no-color'], env);
    expect(test.code, test.output).toBe(0);
    const summary = test.output.match(/Success! (\d+) passed, (\d+) failed/);
    expect(summary, test.output).not.toBeNull();
    expect(Number(summary![1])).toBe(runNames.length);
    expect(Number(summary![2])).toBe(0);
    for (const name of runNames) expect(test.output).toContain(`run "${name}"... pass`);
  }, TF_TIMEOUT);

  it('fails its tests when stickiness is turned on, the password leaks into the environment or EFS transit encryption is dropped', async () => {
    const broken = path.join(work, 'broken');
    copyModule(broken);
    const edit = (file: string, from: string | RegExp, to: string): void => {
      const p = path.join(broken, file);
      const before = fs.readFileSync(p, 'utf8');
      const after = before.replace(from, to);
      expect(after, `${file}: ${String(from)} not found`).not.toBe(before);
      fs.writeFileSync(p, after);
    };
    edit('alb.tf', /stickiness \{\n(\s+)enabled = false/, 'stickiness {\n$1enabled = true');
    edit('ecs.tf', 'WHEELHOUSE_USERNAME    = var.username', 'WHEELHOUSE_USERNAME = var.username\n    WHEELHOUSE_PASSWORD = var.password');
    edit('ecs.tf', 'transit_encryption = "ENABLED"', 'transit_encryption = "DISABLED"');

    const init = await run(broken, ['init', '-backend=false', '-input=false', '-no-color', `-plugin-dir=${pluginDir}`], env);
    expect(init.code, init.output).toBe(0);
    const test = await run(broken, ['test', '-no-color'], env);
    expect(test.code).not.toBe(0);
    expect(test.output).toContain('Stickiness must be off');
    expect(test.output).toContain('The password must not be a plain environment variable.');
    expect(test.output).toContain('The EFS volume must use transit encryption.');
    expect(test.output).toMatch(/Failure! \d+ passed, [1-9]\d* failed/);
  }, TF_TIMEOUT);

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
    expect(entries.length).toBeGreaterThan(20);
    for (const [name, list] of entries) {
      const v = list[0] as Hcl;
      expect(v.description, `variable ${name} has no description`).toMatch(/\S{3,}/);
      expect(v.type, `variable ${name} has no type`).toBeDefined();
    }
    for (const name of ['launch_type', 'name', 'dns_name', 'zone_id', 'allowed_cidrs', 'authenticate', 'refresh_interval', 'idle_timeout', 'log_retention_days']) {
      expect(vars.variable[name][0].validation, `variable ${name} has no validation`).toBeDefined();
    }
    expect(vars.variable.password[0].sensitive).toBe(true);
    expect(vars.variable.launch_type[0].default).toBe('EC2');
    expect(vars.variable.authenticate[0].default).toBe('update');
  });

  it('declares the promised outputs, with the password sensitive', async () => {
    const outs = await parseFile(path.join(infraDir, 'outputs.tf'));
    const names = Object.keys(outs.output);
    for (const name of [
      'pypi_server_urls',
      'pypi_username',
      'pypi_password',
      'ecs_cluster_name',
      'ecs_service_name',
      'efs_file_system_id',
      'target_group_arn',
      'asg_name',
      'cloudwatch_dashboard_url',
    ]) {
      expect(names).toContain(name);
      expect(outs.output[name][0].description, `output ${name} has no description`).toMatch(/\S/);
    }
    expect(outs.output.pypi_password[0].sensitive).toBe(true);
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
