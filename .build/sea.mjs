// `npm run sea`: the service as one executable file for linux-x64, a Node.js single executable
// application (SEA) built on the newest Node LTS, which then needs no Node and no node_modules
// on the host.
//
//   node .build/sea.mjs [--output FILE]      (default dist/sea/udp-listener-exporter)
//
// It bundles the compiled service (dist/src, so `npm run build` first, as `npm run sea` does)
// and its runtime dependencies into one ES module with esbuild, then has Node write the
// executable (`node --build-sea`), with the bundled worker threads and koffi's native binding
// for the netlink source as assets inside it. The Node that builds the file is the Node inside
// it: the running one if it is the newest LTS, otherwise that LTS from the npm registry's `node`
// package.
//
// This lives in a dotfile directory because it is neither shipped (src/, otel/) nor a test.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

/** The Node line inside the file; .ci/run runs the test suite on the same line. */
const NEWEST_LTS = 26;
const PROGRAM = 'udp-listener-exporter';

const root = fileURLToPath(new URL('..', import.meta.url));
const distSrc = path.join(root, 'dist', 'src');
const KOFFI_LOADER = fileURLToPath(new URL('sea-koffi-loader.mjs', import.meta.url));
/** The asset KOFFI_LOADER reads the binding from. */
const KOFFI_ASSET = 'koffi.node';
const { values } = parseArgs({ options: { output: { type: 'string', default: path.join(root, 'dist', 'sea', PROGRAM) } } });
const output = path.resolve(values.output);

const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
// The node flags of `npm start`, which the systemd unit and the image use too.
const startFlags = /^node((?: --[a-z-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(manifest.scripts.start);
if (startFlags === null) throw new Error(`package.json start script is not "node [flags] dist/src/main.js": ${manifest.scripts.start}`);
// The flags are given to the building Node too: V8 rejects a code cache made under other flags.
const execArgv = startFlags[1].trim().split(' ').filter((flag) => flag !== '');

const running = Number(process.versions.node.split('.')[0]);
/** The command of the Node that writes the file. */
const builder = running === NEWEST_LTS ? [process.execPath] : ['npm', 'exec', '--yes', `--package=node@${NEWEST_LTS}`, '--', 'node'];

/** How the service starts a worker thread: from a script beside the module that starts it. */
const WORKER_FROM_FILE = /new Worker\(new URL\('(\.\/[^']+\.js)', import\.meta\.url\), \{/g;

/**
 * Rewrites the compiled service where the bundle must differ from the checkout, and records the
 * worker scripts (source path by asset name) to bundle beside it.
 *
 * The service loads yaml and bcryptjs on first use with createRequire(import.meta.url)(name), so
 * that a service without a web configuration never pays for them. esbuild does not follow that
 * call, so it is written as require(name) here, which esbuild bundles as a module evaluated on
 * the first call: as lazy as before. Any other createRequire would load from a node_modules the
 * single file does not have, so it stops the build.
 *
 * A worker thread runs a script of its own (enter-namespace.ts starts one from
 * enter-namespace-worker.js to enter another network namespace), which is not a file beside the
 * single executable: each is bundled too, stored as an asset named by its path under dist/src,
 * and started from its text (`eval: true`; Node runs it as the ES module it is). Any other
 * `new Worker(` stops the build.
 */
function sourceRewrites(workers) {
  return {
    name: 'source-rewrites',
    setup(build) {
      build.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, (args) => {
        const contents = readFileSync(args.path, 'utf8')
          .replace(/createRequire\(import\.meta\.url\)\(('[^']+')\)/g, 'require($1)')
          .replace(WORKER_FROM_FILE, (_, script) => {
            const file = path.resolve(path.dirname(args.path), script);
            const asset = path.relative(distSrc, file).split(path.sep).join('/');
            workers.set(asset, file);
            return `new Worker(process.getBuiltinModule('node:sea').getAsset(${JSON.stringify(asset)}, 'utf8'), { eval: true, `;
          });
        if (contents.includes('createRequire(')) throw new Error(`${args.path}: a createRequire() the bundle cannot follow`);
        if (/new Worker\((?!process\.getBuiltinModule)/.test(contents)) throw new Error(`${args.path}: a new Worker() whose script the bundle cannot carry`);
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * The netlink source (UDP_LISTENER_SOURCE=netlink) calls libc through koffi, whose native
 * binding is a .node file in koffi's platform package. The file carries it as an asset, and
 * koffi's loader of that package (src/static.js) is replaced by .build/sea-koffi-loader.mjs,
 * which loads the asset. The default procfs source never imports koffi, so never loads it.
 */
function koffiBindingFromAsset(replaced) {
  return {
    name: 'koffi-binding-from-asset',
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/]koffi[\\/]src[\\/]koffi[\\/]src[\\/]static\.js$/ }, () => {
        replaced();
        return { contents: readFileSync(KOFFI_LOADER, 'utf8'), loader: 'js', resolveDir: path.dirname(KOFFI_LOADER) };
      });
    },
  };
}

/** Where koffi's native binding for the Node that writes the file (the Node inside it) lies. */
function targetBinding() {
  const probe = "const { header } = process.report.getReport(); console.log(JSON.stringify({ platform: process.platform, arch: process.arch, musl: header.glibcVersionRuntime === undefined }))";
  const probed = spawnSync(builder[0], [...builder.slice(1), '-e', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (probed.error !== undefined) throw probed.error;
  if (probed.status !== 0) throw new Error(`${builder.join(' ')} -e ... exited with ${probed.status}`);
  const { platform, arch, musl } = JSON.parse(probed.stdout);
  // koffi's platform packages keep a glibc and a musl build side by side (linux_x64, musl_x64).
  const triplet = `${musl ? 'musl' : platform}_${arch}`;
  const requireFromRoot = createRequire(path.join(root, 'package.json'));
  const platformPackage = `@koromix/koffi-${platform}-${arch}`;
  let manifestPath;
  try {
    manifestPath = requireFromRoot.resolve(`${platformPackage}/package.json`);
  } catch {
    throw new Error(`${platformPackage} is not installed: npm ci installs koffi's binary for this machine with koffi`);
  }
  // koffi refuses a binding of another version ("Mismatched native Koffi modules"): say so now.
  const koffiVersion = JSON.parse(readFileSync(path.join(path.dirname(requireFromRoot.resolve('koffi')), 'package.json'), 'utf8')).version;
  const bindingVersion = JSON.parse(readFileSync(manifestPath, 'utf8')).version;
  if (bindingVersion !== koffiVersion) throw new Error(`${platformPackage} ${bindingVersion} does not match koffi ${koffiVersion}: npm ci`);
  const binding = path.join(path.dirname(manifestPath), triplet, 'koffi.node');
  if (!existsSync(binding)) throw new Error(`${binding}: koffi ${koffiVersion} has no binding for ${triplet}`);
  return binding;
}

/** Bundles one entry of dist/src with its dependencies into one ES module. */
async function bundle(entry, outfile, workers) {
  let koffiLoaderReplaced = false;
  const { metafile } = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${NEWEST_LTS}`,
    plugins: [sourceRewrites(workers), koffiBindingFromAsset(() => { koffiLoaderReplaced = true; })],
    // version.ts: there is no package.json beside the file.
    define: { BUNDLED_PACKAGE_VERSION: JSON.stringify(manifest.version) },
    // The bundled CommonJS dependencies (gRPC, protobufjs, the OpenTelemetry packages) require
    // Node's built-in modules, which an ES module has no require() for.
    banner: { js: "import { createRequire as bundleCreateRequire } from 'node:module'; const require = bundleCreateRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  const bundlesKoffi = Object.keys(metafile.inputs).some((input) => /(^|\/)node_modules\/koffi\//.test(input));
  if (bundlesKoffi && !koffiLoaderReplaced) throw new Error(`${entry}: koffi is bundled without its loader replaced (koffi/src/koffi/src/static.js moved?)`);
}

const work = mkdtempSync(path.join(tmpdir(), `${PROGRAM}-sea-`));
try {
  const main = path.join(work, 'main.mjs');
  /** Worker scripts by asset name; bundling one may find more, which the loop below reaches too. */
  const workers = new Map();
  await bundle(path.join(distSrc, 'main.js'), main, workers);
  const assets = { [KOFFI_ASSET]: targetBinding() };
  for (const [asset, entry] of workers) {
    assets[asset] = path.join(work, 'workers', asset);
    await bundle(entry, assets[asset], workers);
  }

  const config = path.join(work, 'sea.json');
  writeFileSync(config, JSON.stringify({
    main,
    mainFormat: 'module',
    output,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    execArgv,
    assets,
  }));
  mkdirSync(path.dirname(output), { recursive: true });

  const built = spawnSync(builder[0], [...builder.slice(1), ...execArgv, '--build-sea', config], { stdio: 'inherit' });
  if (built.error !== undefined) throw built.error;
  if (built.status !== 0) process.exit(built.status ?? 1);
} finally {
  rmSync(work, { recursive: true, force: true });
}
