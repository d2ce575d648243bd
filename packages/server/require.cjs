// What `require('@herald/server')` (or a subpath) loads: the package is ESM only, so this says how to load it.
'use strict';
const error = new Error(
  "@herald/server is an ES module package and cannot be loaded with require(). Import it instead: " +
    "import { ... } from '@herald/server' in an ES module (\"type\": \"module\" in package.json, or a .mjs file; " +
    'in TypeScript, "module": "NodeNext"), or await import(\'@herald/server\') from CommonJS.',
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
