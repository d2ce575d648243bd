/**
 * `jwtAuthenticator`: an `authenticate` for JSON Web Tokens, on `jose`.
 * A subpath of its own so that a server without JWTs needs no `jose`
 * (an optional peer dependency: `npm install jose` to use this one).
 * @module @herald/server/jwt
 */
export { jwtAuthenticator, type JwtAuthenticate, type JwtAuthenticatorOptions, type JwtKeySource } from './auth/jwt.js';
