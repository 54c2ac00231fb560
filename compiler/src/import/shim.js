// apexc import: evaluates a seed (Apex AI Proxy) wrangler-config.js and prints, as one JSON
// object on stdout, the objects apexc converts. Run by `apexc import` as
//   APEXC_IMPORT_FILE=<wrangler-config.js> node -e "<this file>"
// The file is the user's own configuration; it is evaluated the way the seed's
// update-wrangler-config.js did (`require`), with ES module syntax (`export const`,
// `export default`) rewritten to CommonJS first, so every common form loads.
'use strict';
// Everything inside a function: `node -e` runs this as a script, and its top-level bindings
// would be visible to (and in the temporal dead zone for) the user's file.
(function apexcImport() {
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

const file = path.resolve(process.env.APEXC_IMPORT_FILE || process.argv[process.argv.length - 1]);
let src = fs.readFileSync(file, 'utf8');
if (src.startsWith('#!')) src = '//' + src;

// ES module syntax → CommonJS (only the forms a config file uses).
src = src
  .replace(/^\s*export\s+default\s+/gm, 'module.exports.default = ')
  .replace(/^(\s*)export\s+(const|let|var|function|async\s+function|class)\s/gm, '$1$2 ')
  .replace(/^\s*export\s*\{[^}]*\}\s*(from\s*['"][^'"]*['"])?\s*;?/gm, '')
  .replace(/^\s*import\s+(\w+)\s+from\s+(['"][^'"]+['"])\s*;?/gm, 'const $1 = require($2);')
  .replace(/^\s*import\s+(\{[^}]*\})\s+from\s+(['"][^'"]+['"])\s*;?/gm, 'const $1 = require($2);');

// Whatever the file declares at its top level, under the names the seed used, whether or not
// it exports them.
const NAMES = ['providerConfig', 'modelProviderConfig', 'serviceApiKey', 'config', 'kv_namespaces'];
const trailer = '\n;module.__apexc_top = {' +
  NAMES.map((n) => `${n}: (typeof ${n} === 'undefined' ? undefined : ${n})`).join(', ') + '};\n';

const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
const wrapper = vm.runInThisContext(Module.wrap(src + trailer), { filename: file });
wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));

const exp = (mod.exports && typeof mod.exports === 'object') ? mod.exports : {};
const def = (exp.default && typeof exp.default === 'object') ? exp.default : {};
const top = mod.__apexc_top || {};
const pick = (n) => [exp[n], def[n], top[n]].find((v) => v !== undefined);

// The wrangler config object itself (`config`, or an export that looks like one).
let config = pick('config');
if (!config && (exp.vars || exp.name || exp.kv_namespaces)) config = exp;
if (!config && (def.vars || def.name || def.kv_namespaces)) config = def;
config = config || {};
const vars = config.vars || {};
const parsed = (v) => {
  if (typeof v !== 'string') return v;
  try { return JSON.parse(v); } catch (e) { return undefined; }
};

const out = {
  name: typeof config.name === 'string' ? config.name : undefined,
  providerConfig: pick('providerConfig') || parsed(vars.PROVIDER_CONFIG),
  modelProviderConfig: pick('modelProviderConfig') || parsed(vars.MODEL_PROVIDER_CONFIG),
  serviceApiKey: pick('serviceApiKey') || vars.SERVICE_API_KEY,
  kv_namespaces: pick('kv_namespaces') || config.kv_namespaces,
};
process.stdout.write(JSON.stringify(out));
})();
