export { webAuth, type WebAuthHandler } from './web-auth.js';
