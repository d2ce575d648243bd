// What `require('@herald/client')` (or a subpath) loads: the package is ESM only, so this says how to load it.
'use strict';
const error = new Error(
  "@herald/client is an ES module package and cannot be loaded with require(). Import it instead: " +
    "import { ... } from '@herald/client' in an ES module (\"type\": \"module\" in package.json, or a .mjs file; " +
    'in TypeScript, "module": "NodeNext"), or await import(\'@herald/client\') from CommonJS.',
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
