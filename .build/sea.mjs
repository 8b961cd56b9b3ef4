// `npm run sea`: the service as one executable file for linux-x64, a Node.js single executable
// application (SEA) built on the newest Node LTS, which then needs no Node and no node_modules
// on the host.
//
//   node .build/sea.mjs [--output FILE]      (default dist/sea/udp-listener-exporter)
//
// It bundles the compiled service (dist/src, so `npm run build` first, as `npm run sea` does)
// and its runtime dependencies into one ES module with esbuild, then has Node write the
// executable (`node --build-sea`). The Node that builds the file is the Node inside it: the
// running one if it is the newest LTS, otherwise that LTS from the npm registry's `node` package.
//
// This lives in a dotfile directory because it is neither shipped (src/, otel/) nor a test.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

/** The Node line inside the file; .ci/run runs the test suite on the same line. */
const NEWEST_LTS = 26;
const PROGRAM = 'udp-listener-exporter';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { output: { type: 'string', default: path.join(root, 'dist', 'sea', PROGRAM) } } });
const output = path.resolve(values.output);

const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
// The node flags of `npm start`, which the systemd unit and the image use too.
const startFlags = /^node((?: --[a-z-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(manifest.scripts.start);
if (startFlags === null) throw new Error(`package.json start script is not "node [flags] dist/src/main.js": ${manifest.scripts.start}`);

/**
 * The service loads yaml and bcryptjs on first use with createRequire(import.meta.url)(name), so
 * that a service without a web configuration never pays for them. esbuild does not follow that
 * call, so it is written as require(name) here, which esbuild bundles as a module evaluated on
 * the first call: as lazy as before. Any other createRequire would load from a node_modules the
 * single file does not have, so it stops the build.
 */
const lazyRequires = {
  name: 'lazy-requires',
  setup(build) {
    build.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, (args) => {
      const contents = readFileSync(args.path, 'utf8').replace(/createRequire\(import\.meta\.url\)\(('[^']+')\)/g, 'require($1)');
      if (contents.includes('createRequire(')) throw new Error(`${args.path}: a createRequire() the bundle cannot follow`);
      return { contents, loader: 'js' };
    });
  },
};

/**
 * The netlink source (UDP_LISTENER_SOURCE=netlink) calls libc through koffi, whose native binding
 * is a .node file beside its package: a single file cannot load it, so koffi is replaced by a
 * module that says so when the source loads it (the service then refuses to start, naming the
 * variable). The default procfs source needs no native code.
 */
const withoutNativeCode = {
  name: 'without-native-code',
  setup(build) {
    build.onResolve({ filter: /^koffi$/ }, () => ({ path: 'koffi', namespace: 'without-native-code' }));
    build.onLoad({ filter: /.*/, namespace: 'without-native-code' }, () => ({
      contents: "throw new Error('the single executable carries no native code; the netlink source needs the npm package or the container image');",
      loader: 'js',
    }));
  },
};

const work = mkdtempSync(path.join(tmpdir(), `${PROGRAM}-sea-`));
try {
  const bundle = path.join(work, 'main.mjs');
  await esbuild.build({
    entryPoints: [path.join(root, 'dist', 'src', 'main.js')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${NEWEST_LTS}`,
    plugins: [lazyRequires, withoutNativeCode],
    // version.ts: there is no package.json beside the file.
    define: { BUNDLED_PACKAGE_VERSION: JSON.stringify(manifest.version) },
    // The bundled CommonJS dependencies (gRPC, protobufjs, the OpenTelemetry packages) require
    // Node's built-in modules, which an ES module has no require() for.
    banner: { js: "import { createRequire as bundleCreateRequire } from 'node:module'; const require = bundleCreateRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
  });

  // The flags are given to the building Node too: V8 rejects a code cache made under other flags.
  const execArgv = startFlags[1].trim().split(' ').filter((flag) => flag !== '');
  const config = path.join(work, 'sea.json');
  writeFileSync(config, JSON.stringify({
    main: bundle,
    mainFormat: 'module',
    output,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    execArgv,
  }));
  mkdirSync(path.dirname(output), { recursive: true });

  const running = Number(process.versions.node.split('.')[0]);
  const [command, ...args] = running === NEWEST_LTS
    ? [process.execPath]
    : ['npm', 'exec', '--yes', `--package=node@${NEWEST_LTS}`, '--', 'node'];
  const built = spawnSync(command, [...args, ...execArgv, '--build-sea', config], { stdio: 'inherit' });
  if (built.error !== undefined) throw built.error;
  if (built.status !== 0) process.exit(built.status ?? 1);
} finally {
  rmSync(work, { recursive: true, force: true });
}
